// Access tokens and the app's own setup (docs/access-tokens.md): a configuration errcode from
// stable_token or from an API itself is WX_CONFIG_ERROR naming the errcode, never the secret.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createWxSession } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { coreOptions, SECRET } from '../harness/apps.js';
import { coreFor } from './support/keys-app.js';
import { errorText, expectNoSecrets, rejectionOf } from './support/keys.js';
import { CHECK, errcodes, expectWxError, sessions, STABLE } from './support/access-tokens.js';

const CONFIG_ERRCODES = [40002, 40013, 40125, 40164, 41002, 41004, 43002, 45009, 89503];

describe('access tokens: configuration errors', () => {
  let mock: MockWeChat;
  beforeEach(async () => {
    mock = await startMockWeChat();
  });
  afterEach(async () => {
    await mock.close();
  });

  it('a wrong appSecret: checkKey() rejects WX_CONFIG_ERROR 40125, naming the errcode, never the secret', async () => {
    const good = coreFor(mock);
    const { token } = await good.core.login(mock.issueCode('oConfig1'));
    const wrongSecret = 'wrong-app-secret-0f1e2d3c4b5a6978';
    const bad = createWxSession(coreOptions(mock, { appSecret: wrongSecret, store: good.store }));
    const auth = await bad.authenticate(token);
    expect(auth.session, 'the session is readable through the misconfigured core').to.not.equal(null);
    mock.resetCalls();
    const error = expectWxError(await rejectionOf(auth.session!.checkKey()), 'WX_CONFIG_ERROR', 40125);
    expect(error.status).to.equal(500);
    expect(error.message).to.contain('40125');
    expectNoSecrets(errorText(error), [wrongSecret, mock.appSecret, SECRET], 'the error');
    expect(mock.callsTo(STABLE)).to.have.length(1);
    expect(mock.callsTo(CHECK), 'no API call without a token').to.have.length(0);
  });

  it('a wrong appId -> WX_CONFIG_ERROR 40013', async () => {
    const wrongAppId = 'wxnotthisapp00000';
    const good = coreFor(mock);
    const { token: goodToken } = await good.core.login(mock.issueCode('oConfig2'));
    const bad = createWxSession(coreOptions(mock, { appId: wrongAppId, store: good.store }));
    // Sessions belong to one app (SECURITY.md, "Another game's token"): the right app's token is
    // nothing to this core.
    expect((await bad.authenticate(goodToken)).code).to.equal('WX_SESSION_INVALID');
    // A session of the misconfigured core itself. The mock refuses its appId at code2Session too
    // (40013), so this one login is answered as WeChat would answer the app; the stable_token call
    // below meets the mock's real appId check.
    mock.fault('/sns/jscode2session', { body: JSON.stringify({ openid: 'oConfig2', session_key: randomBytes(16).toString('base64') }) }, { times: 1 });
    const { token } = await bad.login(mock.issueCode('oConfig2'));
    const auth = await bad.authenticate(token);
    expect(auth.session, 'the session is readable through the core that made it').to.not.equal(null);
    mock.resetCalls();
    const error = expectWxError(await rejectionOf(auth.session!.checkKey()), 'WX_CONFIG_ERROR', 40013);
    expect(error.status).to.equal(500);
    expect(error.message).to.contain('40013');
    expectNoSecrets(errorText(error), [mock.appSecret, SECRET], 'the error');
    expect(errcodes(mock.callsTo(STABLE)), 'WeChat refused the appId').to.deep.equal([40013]);
    expect(JSON.parse(mock.callsTo(STABLE)[0]!.body ?? '{}').appid).to.equal(wrongAppId);
    expect(mock.callsTo(CHECK), 'no API call without a token').to.have.length(0);
  });

  for (const errcode of CONFIG_ERRCODES) {
    it(`stable_token errcode ${errcode} -> WX_CONFIG_ERROR naming ${errcode}`, async () => {
      const { core } = coreFor(mock);
      const [session] = await sessions(core, mock, 1, 'oCfg');
      mock.fault(STABLE, { errcode }, { times: 1 });
      const error = expectWxError(await rejectionOf(session!.checkKey()), 'WX_CONFIG_ERROR', errcode);
      expect(error.status).to.equal(500);
      expect(error.message).to.contain(String(errcode));
      expect(error.toJSON()).to.deep.equal({ code: 'WX_CONFIG_ERROR', message: error.message, errcode });
      expectNoSecrets(errorText(error), [mock.appSecret, SECRET], 'the error');
    });
  }

  it('a configuration errcode from the API itself (checksession 40164) is WX_CONFIG_ERROR too', async () => {
    const { core } = coreFor(mock);
    const [session] = await sessions(core, mock, 1, 'oCfgApi');
    mock.fault(CHECK, { errcode: 40164 }, { times: 1 });
    const error = expectWxError(await rejectionOf(session!.checkKey()), 'WX_CONFIG_ERROR', 40164);
    expect(error.message).to.contain('40164');
  });

  it('a configuration errcode from a signed API (set_user_storage 89503) is WX_CONFIG_ERROR too', async () => {
    const { core } = coreFor(mock);
    const [session] = await sessions(core, mock, 1, 'oCfgSigned');
    mock.fault('/wxa/set_user_storage', { errcode: 89503 }, { times: 1 });
    const error = expectWxError(await rejectionOf(session!.setUserStorage([{ key: 'a', value: 'b' }])), 'WX_CONFIG_ERROR', 89503);
    expect(error.message).to.contain('89503');
  });
});
