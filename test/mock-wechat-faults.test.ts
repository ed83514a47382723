// The mock WeChat server (wx-session/testing) against real fetch calls, failing on purpose and by
// accident: the faults a test scripts (delay, hang, status, body, reset, errcode, times), and what
// it survives (unknown paths, oversized bodies, garbage, clients that go away, close() with
// requests pending).
import { request } from 'node:http';
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { wechatApi } from './support/client-wechat-api.js';
import { startFor } from './support/hooks.js';

describe('mock WeChat server', () => {
  let mock: MockWeChat;
  startFor('test', async () => (mock = await startMockWeChat()));
  const { code2Session, stableToken } = wechatApi(() => mock);

  describe('faults', () => {
    it('delay answers normally, late', async () => {
      mock.fault('/sns/jscode2session', { delay: 150 }, { times: 1 });
      const started = Date.now();
      expect(await code2Session(mock.issueCode('oUser1'))).to.include({ openid: 'oUser1' });
      expect(Date.now() - started).to.be.at.least(140);
      const quick = Date.now();
      await code2Session(mock.issueCode('oUser1'));
      expect(Date.now() - quick).to.be.below(140);
    });

    it('hang never answers', async () => {
      mock.fault('/sns/jscode2session', { hang: true });
      let error: unknown;
      try {
        await fetch(`${mock.url}/sns/jscode2session`, { signal: AbortSignal.timeout(200) });
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error);
      expect((error as Error).name).to.equal('TimeoutError');
      expect(mock.callsTo('/sns/jscode2session')[0]).to.include({ status: 0 });
    });

    it('status answers that HTTP status and body', async () => {
      mock.fault('/cgi-bin/stable_token', { status: 500, body: 'oops' });
      const res = await fetch(`${mock.url}/cgi-bin/stable_token`, { method: 'POST', body: '{}' });
      expect(res.status).to.equal(500);
      expect(await res.text()).to.equal('oops');
      expect(mock.calls[0]).to.include({ status: 500 });
    });

    it('body answers 200 with a non-JSON body', async () => {
      mock.fault('/sns/jscode2session', { body: '<html>busy</html>' });
      const res = await fetch(`${mock.url}/sns/jscode2session`);
      expect(res.status).to.equal(200);
      expect(await res.text()).to.equal('<html>busy</html>');
    });

    it('reset breaks the connection mid-answer', async () => {
      mock.fault('/sns/jscode2session', { reset: true });
      let error: unknown;
      try {
        const res = await fetch(`${mock.url}/sns/jscode2session`);
        await res.text();
      } catch (e) {
        error = e;
      }
      expect(error).to.be.instanceOf(Error);
    });

    it('errcode answers that errcode; times limits a fault, and clearFaults drops it', async () => {
      mock.fault('/sns/jscode2session', { errcode: 45011 }, { times: 1 });
      expect(await code2Session(mock.issueCode())).to.include({ errcode: 45011 });
      expect(await code2Session(mock.issueCode())).to.have.property('openid');
      mock.fault('/sns/jscode2session', { errcode: 40226, errmsg: 'risky' });
      expect(await code2Session(mock.issueCode())).to.deep.equal({ errcode: 40226, errmsg: 'risky' });
      expect(await code2Session(mock.issueCode())).to.include({ errcode: 40226 });
      mock.clearFaults('/sns/jscode2session');
      expect(await code2Session(mock.issueCode())).to.have.property('openid');
    });
  });

  describe('robustness', () => {
    it('answers 404 for an unknown path and 405 for a wrong method, in JSON', async () => {
      const missing = await fetch(`${mock.url}/nope?%zz=%`);
      expect(missing.status).to.equal(404);
      expect(await missing.json()).to.include({ errcode: 404 });
      const wrong = await fetch(`${mock.url}/sns/jscode2session`, { method: 'DELETE' });
      expect(wrong.status).to.equal(405);
      expect(wrong.headers.get('allow')).to.equal('GET');
      expect(await wrong.json()).to.include({ errcode: 405 });
    });

    it('answers 413 for a body over 64 KiB', async () => {
      const res = await fetch(`${mock.url}/cgi-bin/stable_token`, { method: 'POST', body: 'x'.repeat(65 * 1024) });
      expect(res.status).to.equal(413);
      expect(await res.json()).to.include({ errcode: 413 });
      expect(await stableToken()).to.have.property('access_token');
    });

    it('answers 400 to garbage that is not HTTP, and keeps serving', async () => {
      const { connect } = await import('node:net');
      const port = Number(new URL(mock.url).port);
      const reply = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('\x00\x01 nonsense\r\n\r\n'));
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      expect(reply).to.match(/^HTTP\/1\.1 400/);
      expect(await code2Session('x')).to.include({ errcode: 40029 });
    });

    it('survives a client that goes away mid-body', async () => {
      const port = Number(new URL(mock.url).port);
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/wxa/set_user_storage', headers: { 'content-length': '1000' } });
        req.on('error', () => resolve());
        req.write('{"kv', () => {
          req.destroy();
          resolve();
        });
      });
      expect(await code2Session('x')).to.include({ errcode: 40029 });
    });

    it('close() resolves with a hanging request open, and is idempotent', async () => {
      const own = await startMockWeChat();
      own.fault('/wxa/checksession', { hang: true });
      const pending = fetch(`${own.url}/wxa/checksession`).then(
        () => 'answered',
        () => 'failed',
      );
      while (own.callsTo('/wxa/checksession').length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      await Promise.all([own.close(), own.close()]);
      expect(await pending).to.equal('failed');
    });

    it('close() resolves with a delayed request pending', async () => {
      const own = await startMockWeChat();
      own.fault('/sns/jscode2session', { delay: 10_000 });
      const pending = fetch(`${own.url}/sns/jscode2session`).then(
        () => 'answered',
        () => 'failed',
      );
      while (own.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const started = Date.now();
      await own.close();
      expect(Date.now() - started).to.be.below(1000);
      expect(await pending).to.equal('failed');
    });

    it('validates fault and issueCode arguments', () => {
      expect(() => mock.fault('/x', { delay: -1 })).to.throw(TypeError);
      expect(() => mock.fault('/x', {} as never)).to.throw(TypeError);
      expect(() => mock.fault('/x', { errcode: -1 }, { times: 0 })).to.throw(TypeError);
      expect(() => mock.issueCode('')).to.throw(TypeError);
    });

    it('resetCalls forgets the log', async () => {
      await code2Session('x');
      expect(mock.calls).to.have.lengthOf(1);
      mock.resetCalls();
      expect(mock.calls).to.have.lengthOf(0);
    });
  });
});
