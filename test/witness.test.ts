// The secrets witness (test/support/witness.ts) is what makes "no secret in any answer, log line or
// error during the whole suite" true; these tests show it would notice, so its silence means
// something.
import { expect } from 'chai';
import { createWxSession, WxSessionError } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { adapters, closeServer, coreOptions, listen, SECRET, startApp, type TestApp } from '../harness/apps.js';
import { startChild } from '../harness/process.js';
import { findSecrets, scanPending, witnessCounts, witnessLog } from './support/witness.js';

describe('the secrets witness', () => {
  let mock: MockWeChat;
  let app: TestApp;
  before(async () => {
    mock = await startMockWeChat();
    app = await startApp(adapters[0], { mock });
  });
  after(async () => {
    await app.close();
    await mock.close();
  });

  it('harvests every session_key, access token, app secret and signing secret as they come into being', async () => {
    const { token } = await app.login('oWitness1');
    const key = mock.sessionKeyOf('oWitness1')!;
    const session = (await app.core.authenticate(token)).session!;
    await session.setUserStorage([{ key: 'k', value: 'v' }]);
    const accessToken = mock.currentAccessToken()!;
    const planted = `{"a":"${key}","b":"${encodeURIComponent(accessToken)}","c":"${mock.appSecret}","d":"${SECRET.replace(/-/g, '\\u002d')}"}`;
    const kinds = [...new Set(findSecrets(planted).map((leak) => leak.kind))].sort();
    expect(kinds).to.deep.equal(['access_token', 'appSecret', 'session_key', 'signing secret']);
    expect(findSecrets('nothing secret here: oWitness1, the openid, is not a secret')).to.deep.equal([]);
    scanPending();
  });

  it('catches a secret in an HTTP answer, a log line, an error and the output of a child process, and masks it in the report', async () => {
    await app.login('oWitness2');
    const key = mock.sessionKeyOf('oWitness2')!;
    scanPending();
    // An answer: a server of our own that (wrongly) answers a session_key.
    const { server, url } = await listen((_req, res) => res.end(JSON.stringify({ leaked: key })));
    try {
      await fetch(url);
    } finally {
      await closeServer(server);
    }
    await startChild({ name: 'a leaking child', args: ['-e', `process.stderr.write(${JSON.stringify(key)})`] }).exited();
    witnessLog('a logger line', ['key is', key]);
    void new WxSessionError('WX_UPSTREAM_ERROR', { message: 'oops', cause: new Error(`key ${key}`) });
    await Promise.resolve();
    const leaks = scanPending();
    expect(leaks.map((leak) => leak.where)).to.include.members(['an HTTP answer to GET /', 'a logger line', 'a WxSessionError', 'the stderr of a child process (node)']);
    for (const leak of leaks) {
      expect(leak.context).to.contain('«secret»');
      expect(leak.context).to.not.contain(key);
    }
  });

  it('has been watching: answers, WeChat answers, log writes and errors seen so far', async () => {
    createWxSession(coreOptions(mock)); // a core signs nothing until used; the suite's earlier tests did
    const seen = witnessCounts();
    expect(seen.answers).to.be.above(0);
    expect(seen.wechatAnswers).to.be.above(0);
    expect(seen.logWrites).to.be.above(0);
    expect(seen.errors).to.be.above(0);
    for (const kind of ['session_key', 'access_token', 'appSecret', 'signing secret'] as const) expect(seen.secrets[kind], kind).to.be.above(0);
  });
});
