import { expect } from 'chai';
import { adapters, startApp } from '../harness/apps.js';
for (const name of adapters) describe(`smoke ${name}`, () => {
  it('logs in, uses, saves, logs out', async () => {
    const app = await startApp(name);
    try {
      const { token, openid } = await app.login();
      const me = await app.http.get('/me').set('X-WX-Session', token);
      expect(me.status).to.equal(200); expect(me.body.openid).to.equal(openid);
      const c1 = await app.http.post('/me/coins').set('Authorization', `Bearer ${token}`);
      expect(c1.body.coins).to.equal(1);
      const c2 = await app.http.post('/me/coins').set('X-WX-Session', token);
      expect(c2.body.coins).to.equal(2);
      const j = await app.http.get('/me/json').set('X-WX-Session', token);
      expect(j.body).to.not.have.property('sessionKey'); expect(j.body.data.coins).to.equal(2);
      const out = await app.http.post('/wx/logout').set('X-WX-Session', token);
      expect(out.status).to.equal(204);
      const after = await app.http.get('/me').set('X-WX-Session', token);
      expect(after.status).to.equal(401); expect(after.body.code).to.equal('WX_SESSION_EXPIRED');
      const none = await app.http.get('/me'); expect(none.status).to.equal(401); expect(none.headers['www-authenticate']).to.contain('invalid_request');
      const big = await app.http.post('/wx/login').set('content-type','application/json').send('{"code":"' + 'a'.repeat(9000) + '"}');
      expect(big.status).to.equal(413);
      const bad = await app.http.post('/wx/login').set('content-type','application/json').send('{"code":');
      expect(bad.status).to.equal(400); expect(bad.body.code).to.equal('WX_BAD_REQUEST');
    } finally { await app.close(); }
  });
});
