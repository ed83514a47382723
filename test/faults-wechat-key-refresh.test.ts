// Fault matrix, WeChat (test/support/wechat-faults.ts): code2Session redeeming X-WX-Code after
// checksession said 87009 (keyExpired: 'refresh') under every fault: 504 / 502, the session kept
// (marked stale, same key), 401 WX_SESSION_KEY_EXPIRED without a code, repaired by the next code.
import { expect } from 'chai';
import { INVALID_TOKEN } from './support/wire.js';
import { expectStoredKey } from './support/keys.js';
import { sessionIdOf } from './support/stores.js';
import { C2S, CHECK, everyAdapter, expectError, FAULTS, H, UPSTREAM } from './support/wechat-faults.js';

everyAdapter('code2Session redeeming X-WX-Code', (bench) => {
  describe("code2Session redeeming X-WX-Code after checksession said 87009 (keyExpired: 'refresh')", () => {
    for (const { name: what, fault, kind } of FAULTS) {
      it(`${what} -> ${UPSTREAM[kind].status} ${UPSTREAM[kind].code}; the session kept (stale, same key), repaired by the next code`, async () => {
        const { mock, checking } = bench;
        // The session being refreshed is not one of the pre-existing ones: its key legitimately changes.
        const openid = bench.newOpenid('oStale');
        const token = await bench.loginThrough(checking, openid);
        expect((await checking.http.post('/me/coins').set(H, token)).status).to.equal(200);
        const before = structuredClone(bench.recordOf(token)!);
        mock.rotateSessionKey(openid);

        const res = await bench.cell(C2S, kind, fault, () => checking.http.get('/me').set(H, token).set('X-WX-Code', mock.issueCode(openid)));
        const { status, code } = UPSTREAM[kind];
        expectError(res, status, code, kind === 'errcode' ? 'either' : undefined);
        expect(mock.callsTo(CHECK).map((call) => call.errcode), 'the check that found the key stale').to.deep.equal([87009]);
        // Kept, marked stale, nothing else changed.
        expect(bench.recordOf(token)).to.deep.equal({ ...before, keyStale: true });

        // Without a code: 401 WX_SESSION_KEY_EXPIRED, still kept.
        const bare = await checking.http.get('/me').set(H, token);
        expectError(bare, 401, 'WX_SESSION_KEY_EXPIRED');
        expect(bare.headers['www-authenticate']).to.equal(INVALID_TOKEN);
        // A fresh code repairs it in place: same token, WeChat's current key, the data kept.
        const repaired = await checking.http.get('/me').set(H, token).set('X-WX-Code', mock.issueCode(openid));
        expect(repaired.status, JSON.stringify(repaired.body)).to.equal(200);
        expect(repaired.body).to.deep.include({ openid, data: { coins: 1 } });
        expect(repaired.headers).to.not.have.property('x-wx-session-token');
        const after = bench.recordOf(token)!;
        expectStoredKey(after, sessionIdOf(token), mock.appId, mock.sessionKeyOf(openid), 'the new session_key was swapped in');
        expect(after).to.not.have.property('keyStale');
        expect({ ...after, sessionKey: before.sessionKey, keyCheckedAt: before.keyCheckedAt }).to.deep.equal(before);
      });
    }
  });
});
