// A small client of the mock WeChat's HTTP API (wx-session/testing) for the tests of the mock
// itself: code2Session, stable_token, checksession and the signed mini-game calls, each a real
// fetch, plus the check of WeChat's error answers.
import { expect } from 'chai';
import type { MockWeChat } from '../../src/testing/index.js';
import { hmacHex } from './keys.js';

export type Json = Record<string, unknown>;

/** An errcode answer with WeChat's text and, as WeChat appends to errors, a rid. */
export function expectErr(answer: Record<string, unknown>, errcode: number, text: string): void {
  expect(answer.errcode).to.equal(errcode);
  expect(answer.errmsg).to.match(new RegExp(`^${text}, rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$`));
}

/**
 * The calls, made to whichever mock `current()` returns when they run: the tests start a fresh
 * mock before each test, after these functions were made.
 */
export function wechatApi(current: () => MockWeChat) {
  async function getJson(path: string, params: Record<string, string> = {}): Promise<Json> {
    const res = await fetch(`${current().url}${path}?${new URLSearchParams(params)}`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    return (await res.json()) as Json;
  }

  async function postJson(path: string, params: Record<string, string>, body: string): Promise<Json> {
    const res = await fetch(`${current().url}${path}?${new URLSearchParams(params)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(res.status).to.equal(200);
    return (await res.json()) as Json;
  }

  function code2Session(code: string, overrides: Record<string, string> = {}): Promise<Json> {
    const mock = current();
    return getJson('/sns/jscode2session', {
      appid: mock.appId,
      secret: mock.appSecret,
      js_code: code,
      grant_type: 'authorization_code',
      ...overrides,
    });
  }

  function stableToken(forceRefresh = false): Promise<Json> {
    const mock = current();
    return postJson(
      '/cgi-bin/stable_token',
      {},
      JSON.stringify({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret, force_refresh: forceRefresh }),
    );
  }

  async function accessToken(): Promise<string> {
    const answer = await stableToken();
    expect(answer.access_token).to.be.a('string');
    return answer.access_token as string;
  }

  function checkSession(token: string, openid: string, signature: string): Promise<Json> {
    return getJson('/wxa/checksession', { access_token: token, openid, signature, sig_method: 'hmac_sha256' });
  }

  /** POSTs `body` signed with `key` (by default the user's current session_key). */
  async function signedPost(path: string, token: string, openid: string, body: string, key?: string): Promise<Json> {
    const signature = hmacHex(key ?? current().sessionKeyOf(openid) ?? '', body);
    return postJson(path, { access_token: token, openid, signature, sig_method: 'hmac_sha256' }, body);
  }

  return { getJson, postJson, code2Session, stableToken, accessToken, checkSession, signedPost };
}
