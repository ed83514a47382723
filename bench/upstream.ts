// Upstream (WeChat) calls per 10k authenticated requests with checkSessionKey on:
// `node --import tsx bench/upstream.ts`. In process: the core and the mock WeChat, 100 sessions
// logged in first (those 100 code2Session calls are not counted), then 10k `core.authenticate`
// calls spread round-robin over the 100 sessions, 50 at a time (like 50 connections).
//
// Scenarios:
// - interval 1800 s (the default), a burst of 10k requests: keys were confirmed at login, so no
//   check falls due;
// - interval 1800 s, the same 10k requests spread over 2 hours of clock (Date.now is moved
//   forward in this process, which the core and the mock both read): each session is checked
//   once per 30 minutes of clock (about 3 checks per session), the access token fetched once at
//   the first check and cached (renewed 5 minutes before its 2 h expiry);
// - interval 0 (check every request), a burst: one checksession per request, less the checks that
//   concurrent requests of the same session share (single flight), the access token fetched once.
//
// Env: UPSTREAM_REQUESTS (10000), UPSTREAM_SESSIONS (100). Prints a table, then `RESULT {json}`.
import { createWxSession, MemoryStore } from '../src/index.js';
import { startMockWeChat } from '../src/testing/index.js';

const REQUESTS = Number(process.env.UPSTREAM_REQUESTS ?? 10_000);
const SESSIONS = Number(process.env.UPSTREAM_SESSIONS ?? 100);
const CONCURRENCY = 50;
const SECRET = 'bench-secret-bench-secret-bench-secret!';

const realNow = Date.now.bind(Date);
let clockOffset = 0;
Date.now = () => realNow() + clockOffset;

interface Scenario {
  name: string;
  interval: number;
  /** Clock time the requests are spread over, ms (0: a burst in real time). */
  spreadMs: number;
}

export interface Counted {
  scenario: string;
  interval: number;
  spreadHours: number;
  requests: number;
  sessions: number;
  ok: number;
  checksession: number;
  stableToken: number;
  code2Session: number;
  perTenThousand: { checksession: number; stableToken: number; total: number };
}

/** What this script prints on its RESULT line (bench/run.ts reads it). */
export interface UpstreamResult {
  requests: number;
  sessions: number;
  concurrency: number;
  scenarios: Counted[];
}

async function runScenario(scenario: Scenario): Promise<Counted> {
  clockOffset = 0;
  const mock = await startMockWeChat();
  try {
    const core = createWxSession({
      appId: mock.appId,
      appSecret: mock.appSecret,
      apiBase: mock.url,
      secret: SECRET,
      store: new MemoryStore(),
      checkSessionKey: { interval: scenario.interval },
    });
    const tokens: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      const { token } = await core.login(mock.issueCode());
      tokens.push(token);
    }
    mock.resetCalls();

    let ok = 0;
    const step = scenario.spreadMs / REQUESTS;
    let next = 0;
    // 50 workers take requests in order; with a spread, the clock moves before each request.
    const worker = async () => {
      while (next < REQUESTS) {
        const i = next++;
        if (step > 0) clockOffset = Math.round(step * (i + 1));
        const result = await core.authenticate(tokens[i % SESSIONS]);
        if (result.session) ok++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    const checksession = mock.callsTo('/wxa/checksession').length;
    const stableToken = mock.callsTo('/cgi-bin/stable_token').length;
    const code2Session = mock.callsTo('/sns/jscode2session').length;
    const scale = 10_000 / REQUESTS;
    return {
      scenario: scenario.name,
      interval: scenario.interval,
      spreadHours: scenario.spreadMs / 3_600_000,
      requests: REQUESTS,
      sessions: SESSIONS,
      ok,
      checksession,
      stableToken,
      code2Session,
      perTenThousand: {
        checksession: Math.round(checksession * scale),
        stableToken: Math.round(stableToken * scale),
        total: Math.round((checksession + stableToken + code2Session) * scale),
      },
    };
  } finally {
    clockOffset = 0;
    await mock.close();
  }
}

const scenarios: Scenario[] = [
  { name: 'interval 1800 s, burst', interval: 1800, spreadMs: 0 },
  { name: 'interval 1800 s, spread over 2 h', interval: 1800, spreadMs: 2 * 3_600_000 },
  { name: 'interval 0 (every request), burst', interval: 0, spreadMs: 0 },
];

const results: Counted[] = [];
for (const scenario of scenarios) results.push(await runScenario(scenario));

console.log(`upstream calls per ${REQUESTS} authenticated requests over ${SESSIONS} sessions (checkSessionKey on):`);
for (const r of results) {
  console.log(
    `  ${r.scenario.padEnd(36)} checksession ${String(r.checksession).padStart(6)}  stable_token ${String(r.stableToken).padStart(3)}  code2Session ${r.code2Session}  (ok ${r.ok}/${r.requests})`,
  );
}
const result: UpstreamResult = { requests: REQUESTS, sessions: SESSIONS, concurrency: CONCURRENCY, scenarios: results };
console.log(`RESULT ${JSON.stringify(result)}`);
