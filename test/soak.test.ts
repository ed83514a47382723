// The soak test, short (soak/soak.ts; `npm run soak` runs it for minutes): 20 players on two app
// processes sharing one Redis for a few seconds, with session_key rotations, logouts and access
// token expiries. Every check must pass, and every kind of operation must have happened often
// enough that passing means something. Then the same on a Redis Cluster, with the master holding
// the most sessions killed mid-run and restarted once the failover is done: the same checks, with
// 503 WX_STORE_UNAVAILABLE allowed only in the failover window. The players also buy items, with
// -1s and timeouts injected on WeChat's pay: every balance must match the billNos that succeeded,
// and the faults must have failed some buys, which were retried with the same billNo.
// Also: the secrets scanner finds what it should.
import { expect } from 'chai';
import { requireRedisCluster } from '../harness/cluster.js';
import { requireRedis } from '../harness/redis.js';
import { SecretScanner } from '../harness/secret-scan.js';
import { formatReport, type SoakReport } from '../soak/report.js';
import { runSoak } from '../soak/soak.js';
import { CHECK } from '../soak/violations.js';

describe('soak: short run', function () {
  requireRedis(this);
  this.timeout(60_000);
  this.slow(15_000);

  let report: SoakReport;
  const output: string[] = [];

  before(async function () {
    this.timeout(60_000);
    report = await runSoak({ seconds: 5, clients: 20, thinkMs: 5, expireTokensEveryMs: 1200, log: (line) => output.push(line) });
  });

  it('passes every check', () => {
    const failed = report.checks.filter((check) => !check.ok);
    expect(failed, `${formatReport(report)}\n${output.join('\n')}`).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    expect(report.checks.map((check) => check.violations)).to.deep.equal(report.checks.map(() => 0));
    expect(report.checks.length).to.be.at.least(10);
  });

  it('did every kind of operation, on both instances, often enough to mean something', () => {
    const c = report.counts;
    const why = formatReport(report);
    expect(c.reads, `reads\n${why}`).to.be.at.least(100);
    expect(c.writes, `writes\n${why}`).to.be.at.least(100);
    expect(c.logouts, `logouts\n${why}`).to.be.at.least(20);
    // Every player logged in once, and again after each logout it went on from.
    expect(c.logins, `logins\n${why}`).to.be.at.least(Math.max(20, c.logouts));
    expect(c.rotations, `rotations\n${why}`).to.be.at.least(20);
    expect(c.refreshes, `refreshes\n${why}`).to.equal(c.rotations);
    expect(c.checkSession87009, `87009s at the mock\n${why}`).to.be.at.least(c.rotations);
    expect(c.code2Session, `code2Session\n${why}`).to.equal(c.logins + c.refreshes);
    // Access tokens were expired several times and the instances fetched new ones.
    expect(c.tokenExpiries, `expiries\n${why}`).to.be.at.least(3);
    expect(c.stableToken, `stable_token calls\n${why}`).to.be.at.least(3);
    expect(c.accessTokens, `access tokens seen\n${why}`).to.be.at.least(3);
    expect(c.sessionKeys, `session_keys (the warm-up players' too)\n${why}`).to.be.at.least(20 + c.rotations);
    for (const name of ['A', 'B']) expect(report.perInstance[name] ?? 0, `requests on ${name}\n${why}`).to.be.at.least(100);
    expect(c.sessionsHeld, why).to.be.above(0);
    expect(c.sessionsInRedis, why).to.equal(c.sessionsHeld);
    expect(c.capturedBytes, why).to.be.above(100_000);
    expect(report.requests).to.be.above(500);
    expect(report.throughput).to.be.above(0);
    expect(report.latencyMs.overall.p99).to.be.at.least(report.latencyMs.overall.p50);
    for (const op of ['login', 'logout', 'read', 'write', 'read (X-WX-Code retry)', 'write (X-WX-Code retry)', 'logged-out token']) {
      expect(report.latencyMs.byOp[op]?.count ?? 0, `${op} latencies\n${why}`).to.be.above(0);
    }
  });

  it('bought items, retrying the same billNo after injected faults, with zero lost or doubled payments', () => {
    const c = report.counts;
    const p = report.payments;
    const why = formatReport(report);
    const check = report.checks.find((entry) => entry.name === CHECK.payments);
    expect(check?.ok, why).to.equal(true);
    expect(c.operations.buy, `buy operations\n${why}`).to.be.at.least(20);
    expect(c.buys, `buys\n${why}`).to.be.at.least(20);
    // The ledger also holds the warm-up players' buys; every billNo sent was paid in the end.
    expect(p.paidBillNos, why).to.be.at.least(c.buys).and.equal(p.billNos);
    // -1s and a timeout were injected on WeChat's pay, each failed buys, and those were retried.
    expect(p.busyWindows, `-1 windows\n${why}`).to.be.at.least(1);
    expect(p.timeoutFaults, `delays\n${why}`).to.be.at.least(1);
    expect(p.payBusy, `-1 answers at the mock\n${why}`).to.be.at.least(3);
    expect(p.failedBusy, `buys answered 502 (-1)\n${why}`).to.be.at.least(1);
    expect(p.failedTimeout, `buys answered 504\n${why}`).to.be.at.least(1);
    expect(c.buyRetries, `retries\n${why}`).to.be.at.least(p.failedBusy + p.failedTimeout);
    expect(report.latencyMs.byOp.balance?.count ?? 0, `balance reads\n${why}`).to.be.above(0);
    expect(report.latencyMs.byOp.buy?.count ?? 0, `buy requests\n${why}`).to.be.at.least(c.buys);
  });

  it('prints no secret in its report', () => {
    // The report's secrets check covers this; here only the shape: numbers and names, no long runs of base64.
    const text = `${JSON.stringify(report)}\n${formatReport(report)}`;
    expect(text).to.not.match(/[A-Za-z0-9+/]{22}==/); // a session_key's shape
  });
});

describe('soak: short run on a Redis Cluster, a master killed mid-run', function () {
  requireRedisCluster(this);
  this.timeout(90_000);
  this.slow(30_000);

  let report: SoakReport;
  const output: string[] = [];

  before(async function () {
    this.timeout(90_000); // a request may rightly take up to REQUEST_TIMEOUT_MS (soak/config.ts)
    // Kill at 2 s; the failover takes ~2.5 s (node timeout 1 s), the 503 window closes 1.5 s later,
    // the node is restarted 1.5 s after that (every request overlapping the window has been
    // answered by then: the store's timeout is 1 s) and rejoins within a second: the last seconds
    // run on the healed cluster.
    report = await runSoak({
      seconds: 11,
      clients: 20,
      thinkMs: 5,
      expireTokensEveryMs: 2000,
      redis: 'cluster',
      killNodeAt: 2,
      restartNodeAfter: 1.5,
      log: (line) => output.push(line),
    });
  });

  it('passes every check, with 503s only inside the failover window', () => {
    const why = `${formatReport(report)}\n${output.join('\n')}`;
    expect(report.checks.filter((check) => !check.ok), why).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    expect(report.checks.map((check) => check.violations)).to.deep.equal(report.checks.map(() => 0));
    expect(report.checks.length).to.be.at.least(10);
    expect(report.failover?.store503.outside, why).to.equal(0);
    expect(report.failover?.logoutsAbandoned, why).to.equal(0);
  });

  it('killed a master that held sessions, which failed over and rejoined as a replica', () => {
    const f = report.failover!;
    const why = formatReport(report);
    expect(report.config.redis).to.equal('cluster');
    expect(f.killedAt, why).to.be.a('number');
    expect(f.masters, why).to.have.length(3);
    const killed = f.masters.find((master) => master.port === f.killedPort);
    expect(killed?.sessions, why).to.be.above(0);
    expect(killed!.sessions, why).to.equal(Math.max(...f.masters.map((master) => master.sessions)));
    expect(f.promotedPort, why).to.be.a('number').and.not.equal(f.killedPort);
    expect(f.healthyAt!, why).to.be.above(f.killedAt!);
    expect(f.windowEnd!, why).to.equal(Math.round((f.healthyAt! + f.marginMs / 1000) * 10) / 10);
    expect(f.restartedAt!, why).to.be.at.least(f.windowEnd!);
    expect(f.rejoinedAs, why).to.equal('replica');
    expect(f.rejoinedAt!, why).to.be.below(report.durationSeconds);
  });

  it('did every kind of operation, on both instances, before, during and after the failover', () => {
    const c = report.counts;
    const why = formatReport(report);
    expect(c.reads, `reads\n${why}`).to.be.at.least(100);
    expect(c.writes, `writes\n${why}`).to.be.at.least(100);
    expect(c.logouts, `logouts\n${why}`).to.be.at.least(20);
    expect(c.rotations, `rotations\n${why}`).to.be.at.least(20);
    // A rotation whose X-WX-Code retry was answered 503 may have been repaired all the same.
    expect(c.refreshes + c.rotationsRepairedUnacknowledged, `refreshes\n${why}`).to.equal(c.rotations);
    expect(c.tokenExpiries, `expiries\n${why}`).to.be.at.least(3);
    for (const name of ['A', 'B']) expect(report.perInstance[name] ?? 0, `requests on ${name}\n${why}`).to.be.at.least(100);
    expect(c.sessionsHeld, why).to.be.above(0);
    expect(c.sessionsInRedis, why).to.equal(c.sessionsHeld + report.failover!.orphanSessions);
    expect(report.failover!.answeredAfterWindow, `requests after the failover window\n${why}`).to.be.at.least(100);
  });

  it('bought items through the failover with zero lost or doubled payments', () => {
    const why = formatReport(report);
    expect(report.checks.find((entry) => entry.name === CHECK.payments)?.ok, why).to.equal(true);
    expect(report.counts.buys, `buys\n${why}`).to.be.at.least(20);
    const p = report.payments;
    expect(p.busyWindows + p.timeoutFaults, `faults\n${why}`).to.be.at.least(4);
    expect(p.failedBusy + p.failedTimeout, `buys failed by the faults\n${why}`).to.be.at.least(1);
    expect(report.counts.buyRetries, `retries\n${why}`).to.be.at.least(p.failedBusy + p.failedTimeout);
  });
});

describe('soak: the secrets scanner', () => {
  const key = 'o0q0otL8aEzpcZL/FT9WsQ=='; // has a '/' and '=': changed by URL-encoding and JSON escaping
  const token = 'x'.repeat(20) + 'AbC_-9'.repeat(7) + 'y'.repeat(2);
  const secrets = new SecretScanner<'session_key' | 'access_token'>();
  secrets.add(key, 'session_key');
  secrets.add(token, 'access_token');

  it('finds a secret as it is, URL-encoded, JSON-escaped or inside a longer run, and says where', () => {
    const captured = [
      { where: 'plain', text: `{"session_key":"${key}"}` },
      { where: 'url', text: `GET /x?k=${encodeURIComponent(key)}&y=1` },
      { where: 'json-escaped', text: JSON.stringify(key).replace('/', '\\/') },
      { where: 'embedded', text: `Bearer zz${token}zz` },
      { where: 'clean', text: `nothing here ${key.slice(0, 20)} ${token.slice(1)}` },
    ];
    const hits = captured.flatMap(({ where, text }) => secrets.find(text, where).map((hit) => ({ kind: hit.kind, where: hit.where })));
    expect(hits).to.deep.equal([
      { kind: 'session_key', where: 'plain' },
      { kind: 'session_key', where: 'url' },
      { kind: 'session_key', where: 'json-escaped' },
      { kind: 'access_token', where: 'embedded' },
    ]);
  });
});
