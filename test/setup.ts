// Root hooks: any unhandled rejection or uncaught exception anywhere fails the run.
const problems: unknown[] = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

export const mochaHooks = {
  afterEach(this: Mocha.Context) {
    if (problems.length > 0) {
      const first = problems.splice(0);
      throw new Error(`unhandled rejection during "${this.currentTest?.fullTitle()}": ${String((first[0] as Error)?.stack ?? first[0])}`);
    }
  },
};

export function mochaGlobalTeardown() {
  if (problems.length > 0) {
    process.exitCode = 1;
    console.error('unhandled rejection after the last test:', problems[0]);
  }
}
