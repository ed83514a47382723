// The mock WeChat server (wx-session/testing) against real fetch calls, the signed mini-game APIs:
// set_user_storage, remove_user_storage and setuserinteractivedata check a signature over the exact
// body bytes with the session_key string, and enforce WeChat's storage limits.
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { hmacHex } from './support/keys.js';
import { wechatApi } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';

describe('mock WeChat server', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat()));
  const { postJson, accessToken, signedPost } = wechatApi(() => mock);

  describe('signed mini-game APIs', () => {
    let token: string;

    beforeEach(async () => {
      token = await accessToken();
      mock.issueCode('oUser1');
    });

    it('set_user_storage stores with the right signature, refuses a wrong one', async () => {
      const body = '{"kv_list":[{"key":"score","value":"100"},{"key":"gold","value":"7"}]}';
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', body)).to.deep.equal({ errcode: 0, errmsg: 'ok' });
      expect(mock.userStorage('oUser1')).to.deep.equal({ score: '100', gold: '7' });
      const other = '{"kv_list":[{"key":"score","value":"999"}]}';
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', other, 'wrongkeywrongkeywrong==')).to.include({ errcode: 87009 });
      expect(mock.userStorage('oUser1').score).to.equal('100');
    });

    it('rejects a signature made with the base64-decoded key', async () => {
      const body = '{"kv_list":[{"key":"score","value":"1"}]}';
      const key = mock.sessionKeyOf('oUser1')!;
      const wrong = createHmac('sha256', Buffer.from(key, 'base64')).update(body).digest('hex');
      const params = { access_token: token, openid: 'oUser1', signature: wrong, sig_method: 'hmac_sha256' };
      expect(await postJson('/wxa/set_user_storage', params, body)).to.include({ errcode: 87009 });
      expect(mock.userStorage('oUser1')).to.deep.equal({});
    });

    it('signs the exact body bytes', async () => {
      const sent = '{ "kv_list": [ {"key":"score","value":"5"} ] }';
      const params = { access_token: token, openid: 'oUser1', sig_method: 'hmac_sha256' };
      const key = mock.sessionKeyOf('oUser1')!;
      const reformatted = JSON.stringify(JSON.parse(sent));
      expect(await postJson('/wxa/set_user_storage', { ...params, signature: hmacHex(key, reformatted) }, sent)).to.include({ errcode: 87009 });
      expect(await postJson('/wxa/set_user_storage', { ...params, signature: hmacHex(key, sent) }, sent)).to.include({ errcode: 0 });
    });

    it('remove_user_storage removes keys', async () => {
      await signedPost('/wxa/set_user_storage', token, 'oUser1', '{"kv_list":[{"key":"score","value":"1"},{"key":"gold","value":"2"},{"key":"keep","value":"3"}]}');
      expect(await signedPost('/wxa/remove_user_storage', token, 'oUser1', '{"key":["gold","score"]}')).to.include({ errcode: 0 });
      expect(mock.userStorage('oUser1')).to.deep.equal({ keep: '3' });
    });

    it('enforces the storage limits: 87019 key too long, 87016 kv too long, 87018 too many kv', async () => {
      const kv = (key: string, value: string): string => JSON.stringify({ kv_list: [{ key, value }] });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', kv('k'.repeat(129), '1'))).to.include({ errcode: 87019 });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', kv('k', 'v'.repeat(1024)))).to.include({ errcode: 87016 });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', kv('k', 'v'.repeat(1023)))).to.include({ errcode: 0 });
      const many = JSON.stringify({ kv_list: Array.from({ length: 128 }, (_, i) => ({ key: `key${i}`, value: 'x' })) });
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', many)).to.include({ errcode: 87018 });
      expect(mock.userStorage('oUser1')).to.deep.equal({ k: 'v'.repeat(1023) });
    });

    it('answers 47001 for a body that is not JSON', async () => {
      expect(await signedPost('/wxa/set_user_storage', token, 'oUser1', '{"kv_list":')).to.include({ errcode: 47001 });
    });

    it('setuserinteractivedata stores numbers under keys "1".."50"', async () => {
      const body = '{"kv_list":[{"key":"1","value":0},{"key":"50","value":42}]}';
      expect(await signedPost('/wxa/setuserinteractivedata', token, 'oUser1', body)).to.include({ errcode: 0 });
      expect(mock.userInteractiveData('oUser1')).to.deep.equal({ 1: 0, 50: 42 });
      expect(await signedPost('/wxa/setuserinteractivedata', token, 'oUser1', '{"kv_list":[{"key":"51","value":1}]}')).to.include({ errcode: 87082 });
      expect(await signedPost('/wxa/setuserinteractivedata', token, 'oUser1', '{"kv_list":[{"key":"2","value":"1"}]}')).to.include({ errcode: 87082 });
      expect(mock.userInteractiveData('oUser1')).to.deep.equal({ 1: 0, 50: 42 });
    });
  });
});
