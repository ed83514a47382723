// Whatever Douyin answers a login, the game gets an error of the table (docs/platforms.md), never
// an internal error: a code2Session answer of any shape, in the flat dialect
// `{error, errcode, errmsg}`, in `{err_no, err_tips, data}`, a mix of both, any JSON value or a
// truncated body, is either a complete success or a WxSessionError of a login code, with at most
// three calls (a busy -1 retried twice), and Douyin's own words never reach the message. A
// number that means a stale session_key elsewhere is, in a login answer, WX_UPSTREAM_ERROR.
import { expect } from 'chai';
import fc from 'fast-check';
import { WxSessionError } from '../src/index.js';
import type { MockWeChat } from '../src/testing/index.js';
import { startFor } from './support/hooks.js';
import { platformCore, rejection, startPlatformMock } from './support/platforms.js';
import { params, TEST_TIMEOUT } from './support/properties-run.js';

const CODE2SESSION = '/mgplatform/api/apps/jscode2session';
/** What a login may reject with when the platform's answer is at fault (or refuses the code). */
const LOGIN_ERRORS = ['WX_CODE_INVALID', 'WX_CODE_USED', 'WX_USER_BLOCKED', 'WX_RATE_LIMITED', 'WX_CONFIG_ERROR', 'WX_UPSTREAM_ERROR'];
/** Douyin's words: a marker the message must never repeat. */
const WORDS = 'douyin-says-zq8x';

const anyValue = fc.oneof(fc.integer({ min: -2, max: 50_000 }), fc.constantFrom(0, -1, 40018, 40019, 40017, 40015, 28001039), fc.string(), fc.constant(null), fc.boolean(), fc.jsonValue({ maxDepth: 2 }));
// A session_key the secrets witness will look for everywhere afterwards: never a short word (fast-check
// likes 'toString', which Express then echoes in a 404 of another test), always 16 random bytes.
const keyValue = fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => Buffer.from(bytes).toString('base64')));
const flat = fc.record({ error: anyValue, errcode: anyValue, errmsg: fc.constant(WORDS), openid: anyValue, session_key: keyValue, anonymous_openid: anyValue, unionid: anyValue }, { requiredKeys: [] });
const newer = fc.record({ err_no: anyValue, err_tips: fc.constant(WORDS), err_msg: fc.constant(WORDS), log_id: fc.integer({ min: 0 }).map((n) => `log-${n}`), data: fc.oneof(anyValue, flat) }, { requiredKeys: [] });
const body = fc.oneof(
  flat.map((answer) => JSON.stringify(answer)),
  newer.map((answer) => JSON.stringify(answer)),
  fc.tuple(flat, newer).map(([a, b]) => JSON.stringify({ ...a, ...b })),
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc.tuple(flat, fc.nat()).map(([answer, cut]) => JSON.stringify(answer).slice(0, cut)),
);

describe('properties: any Douyin login answer is a table error or a whole success', function () {
  this.timeout(TEST_TIMEOUT);
  let mock: MockWeChat;
  startFor('block', async () => (mock = await startPlatformMock('douyin')));

  it('never an internal error, at most three calls, Douyin’s words never in the message', async () => {
    const core = platformCore(mock);
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        mock.resetCalls();
        mock.fault(CODE2SESSION, { body: text }, { times: 1 });
        const openid = 'oProperty';
        try {
          const { session } = await core.login(mock.issueCode(openid));
          // A success is one the platform meant: what the game gets names a player.
          expect(session.openid ?? session.anonymousOpenid).to.be.a('string').and.not.be.empty;
          expect(session.sessionKey).to.be.a('string').and.not.be.empty;
        } catch (error) {
          if (!(error instanceof WxSessionError)) throw error;
          expect(LOGIN_ERRORS, `${error.code} for ${text}`).to.include(error.code);
          expect(error.message).to.not.include(WORDS);
        }
        expect(mock.callsTo(CODE2SESSION).length).to.be.within(1, 3);
      }),
      params(),
    );
  });
});

describe('a stale-key number in a login answer is a number the table does not list', () => {
  for (const [platform, errcode] of [['wechat', 87009], ['douyin', 28001039], ['qq', 87009]] as const) {
    it(`${platform}: code2Session answering ${errcode} is WX_UPSTREAM_ERROR with it, not WX_SESSION_KEY_EXPIRED`, async () => {
      const mock = await startPlatformMock(platform);
      try {
        const error = await rejection(platformCore(mock).login(mock.issueCode('oStale', { errcode })));
        expect(error).to.include({ code: 'WX_UPSTREAM_ERROR', status: 502, errcode });
      } finally {
        await mock.close();
      }
    });
  }
});
