// The example servers' POST /me/storage (examples/express, koa, fastify, hono, nestjs): the player's
// WeChat user storage written with a call signed with the session_key, bad input refused before
// any call to WeChat, and WeChat's refusals answered through wx.errors.
import { expect } from 'chai';
import { signPayload } from 'wx-session';
import { call } from './support/http.js';
import { exampleApp, examples, INVALID_TOKEN, PLAYER } from './support/examples.js';

const SET_USER_STORAGE = '/wxa/set_user_storage';

/** Bodies /me/storage refuses: no key, a key that is not a string or out of WeChat's limits, a value that is not a scalar, not JSON. */
const BAD_BODIES = [
  { json: {} },
  { json: { value: 'x' } },
  { json: { key: 7, value: 'x' } },
  { json: { key: '', value: 'x' } },
  { json: { key: 'k'.repeat(129), value: 'x' } },
  { json: { key: 'k', value: 'v'.repeat(1024) } },
  { json: { key: 'k' } },
  { json: { key: 'k', value: null } },
  { json: { key: 'k', value: { nested: true } } },
  { json: [{ key: 'k', value: 'x' }] },
  { raw: '{"key":' },
];

for (const example of examples) {
  describe(`examples/${example.name}: WeChat user storage`, () => {
    const app = exampleApp(example);
    const store = (options: { token?: string; bearer?: string; json?: unknown; raw?: string }) => call(`${app.url}/me/storage`, { method: 'POST', ...options });

    it('writes user storage with a signed call: POST /me/storage answers 204', async () => {
      const { mock } = app;
      const token = await app.login(PLAYER);
      const answer = await store({ token, json: { key: 'level', value: 3 } });
      expect(answer.status, answer.text).to.equal(204);
      expect(mock.userStorage(PLAYER)).to.deep.equal({ level: '3' });
      await store({ bearer: token, json: { key: 'name', value: 'Ada' } });
      expect(mock.userStorage(PLAYER)).to.deep.equal({ level: '3', name: 'Ada' });

      const calls = mock.callsTo(SET_USER_STORAGE);
      expect(calls).to.have.length(2);
      const [first] = calls;
      expect(first!.method).to.equal('POST');
      expect(first!.body).to.equal('{"kv_list":[{"key":"level","value":"3"}]}');
      expect(first!.query.openid).to.equal(PLAYER);
      expect(first!.query.sig_method).to.equal('hmac_sha256');
      expect(first!.query.signature).to.equal(signPayload(first!.body!, mock.sessionKeyOf(PLAYER)!));
    });

    it('refuses bad /me/storage input with 400 WX_BAD_REQUEST, without calling WeChat', async () => {
      const token = await app.login(PLAYER);
      for (const body of BAD_BODIES) {
        const answer = await store({ token, ...body });
        expect(answer.status, JSON.stringify(body)).to.equal(400);
        expect(answer.body.code, JSON.stringify(body)).to.equal('WX_BAD_REQUEST');
        expect(answer.body.message).to.be.a('string');
      }
      expect(app.mock.callsTo(SET_USER_STORAGE)).to.have.length(0);
      expect(app.mock.userStorage(PLAYER)).to.deep.equal({});
    });

    it('refuses /me/storage without a session', async () => {
      const answer = await store({ json: { key: 'level', value: 3 } });
      expect(answer.status).to.equal(401);
      expect(answer.body.code).to.equal('WX_SESSION_MISSING');
      expect(app.mock.callsTo(SET_USER_STORAGE)).to.have.length(0);
    });

    it('answers 401 WX_SESSION_KEY_EXPIRED when WeChat refuses the session_key of the signed call', async () => {
      const { mock } = app;
      const token = await app.login(PLAYER);
      mock.rotateSessionKey(PLAYER); // the player logged in on another device
      const answer = await store({ token, json: { key: 'level', value: 3 } });
      expect(answer.status, answer.text).to.equal(401);
      expect(answer.body.code).to.equal('WX_SESSION_KEY_EXPIRED');
      expect(answer.headers.get('www-authenticate')).to.equal(INVALID_TOKEN);
      expect(answer.text).to.not.include(mock.sessionKeyOf(PLAYER)!);
      expect(mock.userStorage(PLAYER)).to.deep.equal({});
    });

    it("answers WeChat's refusal of the signed call 502 WX_UPSTREAM_ERROR with WeChat's errcode, through wx.errors", async () => {
      const { mock } = app;
      const token = await app.login(PLAYER);
      mock.fault(SET_USER_STORAGE, { errcode: 87018 }, { times: 1 });
      const answer = await store({ token, json: { key: 'level', value: 3 } });
      expect(answer.status, answer.text).to.equal(502);
      expect(answer.body).to.include({ code: 'WX_UPSTREAM_ERROR', errcode: 87018 });
      expect(answer.headers.get('www-authenticate')).to.equal(null);
      expect(mock.userStorage(PLAYER)).to.deep.equal({});
    });
  });
}
