// wx-session/client end to end, login() and logout(): one login for concurrent calls, the token
// stored and cleared (also when the network fails), and custom storageKey, loginPath and
// logoutPath. Real HTTP: the fake `wx` in front of the Express example server and the mock WeChat.
import { expect } from 'chai';
import express from 'express';
import { wxSession } from 'wx-session/express';
import { createSessionClient, type SessionClient } from 'wx-session/client';
import { startMockWeChat } from '../src/testing/index.js';
import { closeServer, coreOptions, listen } from '../harness/apps.js';
import { fakeWx, type FakeWx, type GameServer } from './support/client.js';
import { KEY, OPENID, devicePerTest } from './support/client-device.js';

describe('wx-session/client: login and logout', () => {
  let app: GameServer;
  let wx: FakeWx;
  let client: SessionClient;
  const { logins } = devicePerTest((device) => ({ app, wx, client } = device));

  it('login() resolves with the login answer and stores the token; concurrent calls share it', async () => {
    const [a, b] = await Promise.all([client.login(), client.login()]);
    expect(a).to.equal(b);
    expect(a.openid).to.equal(OPENID);
    expect(a.expiresIn).to.be.a('number');
    expect(wx.storage.get(KEY)).to.equal(a.token);
    expect(logins()).to.equal(1);
  });

  it('logout() ends the server session and clears storage', async () => {
    await client.login();
    const token = client.token()!;
    await client.logout();
    expect(wx.storage.has(KEY)).to.equal(false);
    expect(client.token()).to.equal(undefined);
    const [hit] = app.hitsTo('POST', '/wx/logout');
    expect(hit!.headers['x-wx-session']).to.equal(token);
    const after = await fetch(`${app.url}/me`, { headers: { 'X-WX-Session': token } });
    expect(after.status).to.equal(401);
    // With no token, logout sends nothing.
    await client.logout();
    expect(app.hitsTo('POST', '/wx/logout')).to.have.length(1);
  });

  it('logout() clears storage even when the network fails', async () => {
    await client.login();
    const { server, url } = await listen((_req, res) => res.end());
    await closeServer(server);
    const offline = createSessionClient({ baseUrl: url, wx });
    await offline.logout();
    expect(wx.storage.has(KEY)).to.equal(false);
  });

  it('uses storageKey, loginPath and logoutPath', async () => {
    const mock = await startMockWeChat();
    const server = express();
    server.use(wxSession(coreOptions(mock), { loginPath: '/game/login', logoutPath: '/game/logout' }));
    server.get('/ping', (req, res) => res.json({ openid: req.wxSession?.openid ?? null }));
    const { server: http, url } = await listen(server);
    try {
      const device = fakeWx(mock, OPENID);
      const custom = createSessionClient({ baseUrl: `${url}/`, wx: device, loginPath: '/game/login', logoutPath: '/game/logout', storageKey: 'my-token' });
      await custom.login();
      expect(device.storage.get('my-token')).to.equal(custom.token());
      expect((await custom.request<{ openid: string }>({ url: '/ping' })).data.openid).to.equal(OPENID);
      await custom.logout();
      expect(device.storage.has('my-token')).to.equal(false);
    } finally {
      await closeServer(http);
      await mock.close();
    }
  });
});
