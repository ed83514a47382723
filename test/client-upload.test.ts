// wx-session/client end to end, uploadFile: logs in first, sends the file with the token, reads
// error codes from the text answer (re-login, key refresh) and hands back a refused login as text.
// Real HTTP: the fake `wx` (hand-built multipart) in front of the Express example server.
import { expect } from 'chai';
import type { SessionClient } from 'wx-session/client';
import type { FakeWx, GameServer } from './support/client.js';
import { OPENID, devicePerTest } from './support/client-device.js';

describe('wx-session/client: uploadFile', () => {
  let app: GameServer;
  let wx: FakeWx;
  let client: SessionClient;
  const { restart, logins } = devicePerTest((device) => ({ app, wx, client } = device));

  beforeEach(() => {
    wx.files.set('wxfile://tmp/replay.txt', Buffer.from('replay of round 3'));
  });

  it('logs in first, sends the file with the token, and resolves with the text answer', async () => {
    const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay', formData: { round: 3 } });
    expect(res.statusCode).to.equal(200);
    expect(res.data).to.be.a('string');
    const body = JSON.parse(res.data) as { openid: string; parts: Record<string, { filename?: string; content: string }> };
    expect(body.openid).to.equal(OPENID);
    expect(body.parts.replay).to.deep.equal({ filename: 'replay.txt', content: 'replay of round 3' });
    expect(body.parts.round).to.deep.equal({ content: '3' });
    expect(logins()).to.equal(1);
    expect(app.hitsTo('POST', '/upload')[0]!.headers['x-wx-session']).to.equal(client.token());
  });

  it('reads the error code from the text answer: re-logs in after a destroyed session', async () => {
    await client.login();
    await fetch(`${app.url}/wx/logout`, { method: 'POST', headers: { 'X-WX-Session': client.token()! } });
    const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay' });
    expect(res.statusCode).to.equal(200);
    expect(JSON.parse(res.data).parts.replay.content).to.equal('replay of round 3');
    expect(app.hitsTo('POST', '/upload')).to.have.length(2);
    expect(logins()).to.equal(2);
  });

  it('refreshes a rotated session_key with X-WX-Code', async () => {
    await restart({ checkSessionKey: { interval: 0 } });
    wx.files.set('wxfile://tmp/replay.txt', Buffer.from('replay of round 3'));
    await client.login();
    const token = client.token();
    app.mock.rotateSessionKey(OPENID);
    const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay' });
    expect(res.statusCode).to.equal(200);
    const hits = app.hitsTo('POST', '/upload');
    expect(hits.map((hit) => hit.headers['x-wx-code'] !== undefined)).to.deep.equal([false, true]);
    expect(client.token()).to.equal(token);
    expect(logins()).to.equal(1);
  });

  it('resolves with the login answer as text when the implicit login is refused', async () => {
    wx.codeOptions = { errcode: 45011 };
    const res = await client.uploadFile({ url: '/upload', filePath: 'wxfile://tmp/replay.txt', name: 'replay' });
    expect(res.statusCode).to.equal(429);
    expect(JSON.parse(res.data).code).to.equal('WX_RATE_LIMITED');
    expect(app.hitsTo('POST', '/upload')).to.have.length(0);
  });
});
