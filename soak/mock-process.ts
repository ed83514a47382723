// The soak's mock WeChat (wx-session/testing) in a process of its own, driven over IPC by
// soak/processes.ts. In the soak's own process it shared one event loop with hundreds of players,
// and at the load's bursts on a busy machine it answered the instances after their 5 s timeout:
// 504s and fail-open checks caused by the test rig, not by wx-session. Here it has its own loop,
// as WeChat has its own servers.
//
// Protocol: the parent sends { id, op, openid? }; the child answers { id, result } or
// { id, error }. Ready: { ready: true, url, appId, appSecret }. It exits when the IPC channel
// closes (the parent stopped or died).
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';

/** What the mock's call log says, tallied here so the log never crosses the IPC channel. */
export interface MockTally {
  code2Session: number;
  /** code2Session calls not answered errcode 0. */
  code2SessionErrors: number;
  checkSession: number;
  checkSession87009: number;
  /** checksession calls answered neither 0 nor 87009 (e.g. 42001 right after expireAccessTokens). */
  checkSessionOther: number;
  stableToken: number;
}

export type MockRequest =
  | { id: number; op: 'issueCode'; openid: string }
  | { id: number; op: 'rotateSessionKey'; openid: string }
  | { id: number; op: 'currentAccessToken' }
  | { id: number; op: 'expireAccessTokens' }
  | { id: number; op: 'tally'; reset?: boolean };

export interface MockResults {
  /** The code, and the user's session_key (created by the first code). */
  issueCode: { code: string; sessionKey: string };
  rotateSessionKey: string;
  currentAccessToken: string | null;
  expireAccessTokens: null;
  tally: MockTally;
}

export interface MockReady {
  ready: true;
  url: string;
  appId: string;
  appSecret: string;
}

const newTally = (): MockTally => ({ code2Session: 0, code2SessionErrors: 0, checkSession: 0, checkSession87009: 0, checkSessionOther: 0, stableToken: 0 });

function drain(mock: MockWeChat, tally: MockTally): void {
  const calls = mock.calls;
  mock.resetCalls(); // same tick as the read: nothing recorded in between is lost
  for (const call of calls) {
    if (call.path === '/sns/jscode2session') {
      tally.code2Session += 1;
      if (call.errcode !== 0) tally.code2SessionErrors += 1;
    } else if (call.path === '/wxa/checksession') {
      tally.checkSession += 1;
      if (call.errcode === 87009) tally.checkSession87009 += 1;
      else if (call.errcode !== 0) tally.checkSessionOther += 1;
    } else if (call.path === '/cgi-bin/stable_token') {
      tally.stableToken += 1;
    }
  }
}

function answer(mock: MockWeChat, tally: MockTally, request: MockRequest): unknown {
  switch (request.op) {
    case 'issueCode': {
      const code = mock.issueCode(request.openid);
      return { code, sessionKey: mock.sessionKeyOf(request.openid)! } satisfies MockResults['issueCode'];
    }
    case 'rotateSessionKey':
      return mock.rotateSessionKey(request.openid);
    case 'currentAccessToken':
      return mock.currentAccessToken() ?? null;
    case 'expireAccessTokens':
      mock.expireAccessTokens();
      return null;
    case 'tally': {
      drain(mock, tally);
      const result = { ...tally };
      if (request.reset) Object.assign(tally, newTally());
      return result;
    }
  }
}

if (!process.send) {
  console.error('soak/mock-process.ts runs as a child of the soak (soak/processes.ts; it needs an IPC channel)');
  process.exit(2);
}

const mock = await startMockWeChat();
const tally = newTally();
// The log grows by a call per request: keep it short.
setInterval(() => drain(mock, tally), 500).unref();

process.on('message', (request: MockRequest) => {
  try {
    process.send!({ id: request.id, result: answer(mock, tally, request) });
  } catch (error) {
    process.send!({ id: request.id, error: String((error as Error)?.message ?? error) });
  }
});
process.on('disconnect', () => {
  void mock.close().finally(() => process.exit(0));
});
process.send({ ready: true, url: mock.url, appId: mock.appId, appSecret: mock.appSecret } satisfies MockReady);
