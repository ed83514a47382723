// Issue 17's regression check, counted rather than timed: what an authenticated `GET /me` does per
// request on each framework, over wx-session's floor (one middleware: a header read and a Map
// lookup, harness/hot-path-apps.ts). test/support/hot-path-probe.ts counts, in a child process,
// over a fixed number of requests: store calls, HMACs, promises created and heap bytes allocated.
// Each must stay within test/fixtures/hot-path-budget.json; a change that makes the hot path do
// more fails here, whatever the machine's speed. `npm run hot-path` prints the counts.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { startChild } from '../harness/process.js';
import { FRAMEWORKS } from '../harness/hot-path-apps.js';
import type { Counts } from './support/hot-path-probe.js';

interface Budget {
  /** Promises created per request beyond the floor's. */
  promises: number;
  /** Heap bytes allocated per request beyond the floor's (the measure varies by some tens of bytes). */
  bytes: number;
}
const BUDGET = JSON.parse(readFileSync(new URL('./fixtures/hot-path-budget.json', import.meta.url), 'utf8')) as Record<string, Budget>;

interface ProbeResult {
  requests: number;
  results: Record<string, { floor: Counts; wx: Counts }>;
}

describe('the hot path: what an authenticated request costs over the floor, counted', function () {
  this.timeout(180_000);
  this.slow(60_000);
  let probe: ProbeResult;

  before(async () => {
    const child = startChild({
      name: 'hot-path-probe',
      args: ['--expose-gc', '--min-semi-space-size=128', '--max-semi-space-size=128', '--import', 'tsx', 'test/support/hot-path-probe.ts'],
    });
    const [line] = await child.waitFor(/^RESULT .*$/m, 170_000);
    await child.exited();
    probe = JSON.parse(line.slice('RESULT '.length)) as ProbeResult;
  });

  for (const framework of FRAMEWORKS) {
    it(`${framework}: one store read and no HMAC, no write; promises and bytes within the budget`, () => {
      const { floor, wx } = probe.results[framework]!;
      const budget = BUDGET[framework]!;
      // Exact: a verified token is remembered (no HMAC), a live session is read once, nothing written.
      expect(wx.peek + wx.get, 'store reads per request').to.equal(1);
      expect(wx.get, 'the synchronous read (peek) serves it').to.equal(0);
      expect(wx.set + wx.update + wx.touch + wx.destroy, 'store writes per request').to.equal(0);
      expect(wx.hmac, 'HMACs per request').to.equal(0);
      expect(floor.hmac + floor.peek, 'the floor touches neither').to.equal(0);
      const promises = Math.round(wx.promise - floor.promise);
      const bytes = wx.bytes - floor.bytes;
      expect(promises, `promises per request over the floor (${probe.requests} requests)`).to.be.at.most(budget.promises);
      expect(bytes, `heap bytes per request over the floor (${probe.requests} requests)`).to.be.at.most(budget.bytes);
    });
  }
});
