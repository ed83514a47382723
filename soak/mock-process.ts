// The soak's mock WeChat (wx-session/testing) in a process of its own, driven over IPC by
// soak/processes.ts. In the soak's own process it shared one event loop with hundreds of players,
// and at the load's bursts on a busy machine it answered the instances after their 5 s timeout:
// 504s and fail-open checks caused by the test rig, not by wx-session. Here it has its own loop,
// as WeChat has its own servers.
//
// Protocol: the parent sends { id, op, ... }; the child answers { id, result } or { id, error }.
// Ready: { ready: true, url, appId, appSecret, payment }. It exits when the IPC channel closes
// (the parent stopped or died).
import { startMockWeChat, type MockWeChat } from '../src/testing/index.js';
import { PAY_PATH, PayFaults } from './pay-faults.js';

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
  /** /wxa/game/pay calls, those answered -1 (the injected faults) and those answered 90012 (a billNo paid already). */
  pay: number;
  payBusy: number;
  payDuplicates: number;
  /** Pays held unanswered by a timeout fault and sent to the mock again (soak/pay-faults.ts), and how many of those it applied. */
  payHeld: number;
  payHeldApplied: number;
}

export type MockRequest =
  | { id: number; op: 'issueCode'; openid: string }
  | { id: number; op: 'rotateSessionKey'; openid: string }
  | { id: number; op: 'currentAccessToken' }
  | { id: number; op: 'expireAccessTokens' }
  | { id: number; op: 'tally'; reset?: boolean }
  | { id: number; op: 'setBalance'; openid: string; zoneId: string; amount: number }
  | { id: number; op: 'balanceOf'; openid: string; zoneId: string }
  /** 'errcode -1': every pay call answers -1 for the next `ms`; 'timeout': the next one is never answered, and lands `ms` after it is seen (soak/pay-faults.ts). */
  | { id: number; op: 'payFault'; fault: 'errcode -1' | 'timeout'; ms: number }
  | { id: number; op: 'clearPayFaults' };

export interface MockResults {
  /** The code, and the user's session_key (created by the first code). */
  issueCode: { code: string; sessionKey: string };
  rotateSessionKey: string;
  currentAccessToken: string | null;
  expireAccessTokens: null;
  tally: MockTally;
  setBalance: null;
  /** The player's balance in the zone (env 0), present coins included. */
  balanceOf: number;
  /** False: declined, another fault is under way. */
  payFault: boolean;
  clearPayFaults: null;
}

export interface MockReady {
  ready: true;
  url: string;
  appId: string;
  appSecret: string;
  /** The payment settings the instances need: the offerId and both AppKeys (secrets). */
  payment: { offerId: string; appKey: string; sandboxAppKey: string };
}

const newTally = (): MockTally => ({ code2Session: 0, code2SessionErrors: 0, checkSession: 0, checkSession87009: 0, checkSessionOther: 0, stableToken: 0, pay: 0, payBusy: 0, payDuplicates: 0, payHeld: 0, payHeldApplied: 0 });

function drain(mock: MockWeChat, tally: MockTally, payFaults: PayFaults): void {
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
    } else if (call.path === PAY_PATH) {
      tally.pay += 1;
      if (call.errcode === -1) tally.payBusy += 1;
      else if (call.errcode === 90012) tally.payDuplicates += 1;
      payFaults.seen(call);
    }
  }
}

function answer(mock: MockWeChat, tally: MockTally, payFaults: PayFaults, request: MockRequest): unknown {
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
    case 'setBalance':
      mock.setBalance(request.openid, request.zoneId, request.amount);
      return null;
    case 'balanceOf':
      return mock.balanceOf(request.openid, request.zoneId).balance;
    case 'payFault':
      return request.fault === 'timeout' ? payFaults.timeout(request.ms) : payFaults.busy(request.ms);
    case 'clearPayFaults':
      payFaults.clear();
      return null;
    case 'tally': {
      drain(mock, tally, payFaults);
      const result = { ...tally, payHeld: payFaults.landed, payHeldApplied: payFaults.applied };
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
const payFaults = new PayFaults(mock);
// The log grows by a call per request: keep it short (and a pay held by a timeout fault is seen within 500 ms).
setInterval(() => drain(mock, tally, payFaults), 500).unref();

process.on('message', (request: MockRequest) => {
  try {
    process.send!({ id: request.id, result: answer(mock, tally, payFaults, request) });
  } catch (error) {
    process.send!({ id: request.id, error: String((error as Error)?.message ?? error) });
  }
});
process.on('disconnect', () => {
  void mock.close().finally(() => process.exit(0));
});
const { offerId, appKey, sandboxAppKey } = mock.payment;
process.send({ ready: true, url: mock.url, appId: mock.appId, appSecret: mock.appSecret, payment: { offerId, appKey, sandboxAppKey } } satisfies MockReady);
