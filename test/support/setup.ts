// Root hooks: any unhandled rejection or uncaught exception anywhere fails the run, and so does any
// secret the witness (test/support/witness.ts) finds in an answer, a log line or an error.
import { describeHandles, lingering } from './open-handles.js';
import { scanPending, witnessCounts, witnessEsmBuild, type Leak } from './witness.js';

const problems: unknown[] = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

function describeLeaks(leaks: Leak[]): string {
  return leaks.slice(0, 5).map((leak) => `  a ${leak.kind} in ${leak.where}: …${leak.context}…`).join('\n');
}

export const mochaHooks = {
  async beforeAll() {
    await witnessEsmBuild();
  },
  afterEach(this: Mocha.Context) {
    if (problems.length > 0) {
      const first = problems.splice(0);
      throw new Error(`unhandled rejection during "${this.currentTest?.fullTitle()}": ${String((first[0] as Error)?.stack ?? first[0])}`);
    }
    const leaks = scanPending();
    if (leaks.length > 0) throw new Error(`secret seen during "${this.currentTest?.fullTitle()}":\n${describeLeaks(leaks)}`);
  },
};

export async function mochaGlobalTeardown() {
  if (problems.length > 0) {
    process.exitCode = 1;
    console.error('unhandled rejection after the last test:', problems[0]);
  }
  const leaks = scanPending();
  if (leaks.length > 0) {
    process.exitCode = 1;
    console.error(`secret seen after the last test:\n${describeLeaks(leaks)}`);
  }
  const seen = witnessCounts();
  if (process.env.WITNESS_REPORT) console.error(`secrets witness: ${JSON.stringify(seen)}`);
  // Mocha exits after this (`exit: true`); first say what a test left open, if anything.
  const open = await lingering(3000);
  if (open.length > 0) {
    console.error(`still open 3 s after the last test (${open.join(', ')}):\n${describeHandles().map((line) => `  ${line}`).join('\n')}`);
  }
}
