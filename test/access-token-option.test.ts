// The accessToken option (the user's own token service): asked instead of stable_token, asked
// again once when WeChat refuses its token, and its failures are WX_UPSTREAM_ERROR.
import { expect } from 'chai';
import { WxSessionError } from '../src/index.js';
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { coreFor } from './support/keys-app.js';
import { rejectionOf } from './support/keys.js';
import { CHECK, errcodes, expectWxError, sessions, STABLE } from './support/access-tokens.js';

/** A token from the mock's classic /cgi-bin/token: what a user's own token service would hold. */
async function classicToken(mock: MockWeChat): Promise<string> {
  const query = new URLSearchParams({ grant_type: 'client_credential', appid: mock.appId, secret: mock.appSecret });
  const res = await fetch(`${mock.url}/cgi-bin/token?${query}`);
  const json = (await res.json()) as { access_token?: string };
  if (typeof json.access_token !== 'string') throw new Error('the mock gave no token');
  return json.access_token;
}

describe('access tokens: the accessToken option (the user\'s own token service)', () => {
  let mock: MockWeChat;
  beforeEach(async () => {
    mock = await startMockWeChat();
  });
  afterEach(async () => {
    await mock.close();
  });

  it('calls the function instead of stable_token', async () => {
    let asked = 0;
    const { core } = coreFor(mock, { accessToken: async () => { asked++; return classicToken(mock); } });
    const [session] = await sessions(core, mock, 1, 'oOwn');
    mock.resetCalls();
    expect(await session!.checkKey()).to.equal(true);
    expect(await session!.checkKey()).to.equal(true);
    await session!.setUserStorage([{ key: 'k', value: 'v' }]);
    expect(asked).to.be.at.least(1);
    expect(mock.callsTo(STABLE), 'stable_token never called').to.have.length(0);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([0, 0]);
    expect(mock.userStorage('oOwn0000')).to.deep.equal({ k: 'v' });
  });

  it('on 40001 asks the function again once and retries', async () => {
    // A token service with its own cache: it hands out `current`; once WeChat revoked that, the
    // service has a fresh one ready, which the next ask gets.
    let current = await classicToken(mock);
    let ready: string | undefined;
    let asked = 0;
    const { core } = coreFor(mock, {
      accessToken: async () => {
        asked++;
        const token = current;
        if (ready !== undefined) [current, ready] = [ready, undefined];
        return token;
      },
    });
    const [session] = await sessions(core, mock, 1, 'oOwn');
    asked = 0;
    expect(await session!.checkKey()).to.equal(true);
    const perCall = asked;
    expect(perCall).to.be.at.least(1);
    mock.revokeAccessTokens();
    ready = await classicToken(mock);
    mock.resetCalls();
    asked = 0;
    expect(await session!.checkKey()).to.equal(true);
    expect(errcodes(mock.callsTo(CHECK))).to.deep.equal([40001, 0]);
    expect(asked, 'asked once more than for a call that went through').to.equal(perCall + 1);
    expect(mock.callsTo(STABLE)).to.have.length(0);
  });

  it('a function that keeps returning a refused token: one retry, then the call rejects', async () => {
    const revoked = await classicToken(mock);
    mock.revokeAccessTokens();
    let asked = 0;
    const { core } = coreFor(mock, { accessToken: async () => { asked++; return revoked; } });
    const [session] = await sessions(core, mock, 1, 'oOwn');
    mock.resetCalls();
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_ERROR', 40001);
    expect(mock.callsTo(CHECK)).to.have.length(2);
    expect(asked).to.be.at.least(2);
    expect(mock.callsTo(STABLE)).to.have.length(0);
  });

  it('a function that throws -> WX_UPSTREAM_ERROR, and WeChat is not called', async () => {
    const { core } = coreFor(mock, { accessToken: async () => { throw new Error('token service down'); } });
    const [session] = await sessions(core, mock, 1, 'oOwnFail');
    mock.resetCalls();
    const error = expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_ERROR');
    expect(error.status).to.equal(502);
    expectWxError(await rejectionOf(session!.setUserStorage([{ key: 'a', value: 'b' }])), 'WX_UPSTREAM_ERROR');
    expect(mock.calls, 'no call reached WeChat').to.have.length(0);
  });

  it('a function that resolves without a token -> WX_UPSTREAM_ERROR', async () => {
    const { core } = coreFor(mock, { accessToken: async () => '' });
    const [session] = await sessions(core, mock, 1, 'oOwnEmpty');
    mock.resetCalls();
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_ERROR');
    expect(mock.callsTo(CHECK)).to.have.length(0);
  });

  it('a WxSessionError the function throws passes through as it is', async () => {
    const { core } = coreFor(mock, { accessToken: async () => { throw new WxSessionError('WX_UPSTREAM_TIMEOUT'); } });
    const [session] = await sessions(core, mock, 1, 'oOwnTimeout');
    expectWxError(await rejectionOf(session!.checkKey()), 'WX_UPSTREAM_TIMEOUT');
  });
});
