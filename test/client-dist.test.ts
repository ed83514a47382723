// wx-session/client as published: the BUILT files (dist/, ES2017, ESM and CommonJS) through the
// whole story (login, a destroyed session, a stale session_key, logout, a refused login) against
// the Express example server. dist/ is `npm run build`'s (npm test builds it first).
import { createRequire } from 'node:module';
import { expect } from 'chai';
import type { FakeWx, GameServer } from './support/client.js';
import { KEY, OPENID, devicePerTest } from './support/client-device.js';

describe('wx-session/client: the built files (dist/)', () => {
  let app: GameServer;
  let wx: FakeWx;
  const { restart, logins } = devicePerTest((device) => ({ app, wx } = device));

  const builds = {
    esm: async () => (await import('../dist/esm/src/client/index.js' as string)) as typeof import('wx-session/client'),
    cjs: async () => createRequire(import.meta.url)('../dist/cjs/src/client/index.js') as typeof import('wx-session/client'),
  };
  for (const [format, load] of Object.entries(builds)) {
    it(`${format}: logs in, repairs a destroyed session and a stale key, logs out`, async () => {
      await restart({ checkSessionKey: { interval: 0 } });
      const built = await load();
      const game = built.createSessionClient({ baseUrl: app.url, wx });
      expect((await game.request({ url: '/me' })).statusCode).to.equal(200);
      await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': game.token()! } });
      expect((await game.request({ url: '/me' })).statusCode).to.equal(200);
      expect(logins()).to.equal(2);
      const token = game.token();
      app.mock.rotateSessionKey(OPENID);
      expect((await game.request({ url: '/me' })).statusCode).to.equal(200);
      expect(game.token()).to.equal(token);
      expect(app.hitsTo('GET', '/me').at(-1)!.headers['x-wx-code']).to.be.a('string');
      await game.logout();
      expect(wx.storage.has(KEY)).to.equal(false);
      wx.codeOptions = { errcode: 45011 };
      const error = await game.login().then(() => null, (e: unknown) => e);
      expect(error).to.be.instanceOf(built.SessionClientError);
    });
  }
});
