// Mocha hooks for what a describe block starts and must stop again (a mock WeChat, a test app,
// any server with close()): one line in the block instead of a before/after pair written out in
// every file.

/** What the hooks know how to stop. */
export interface Closable {
  close(): Promise<void>;
}

/**
 * Runs `start` before the enclosing block ('block') or before each of its tests ('test'), and
 * closes what it returned afterwards. `start` usually also keeps it in the block's variable:
 * `startFor('block', async () => (app = await startApp(name)))`.
 */
export function startFor(per: 'block' | 'test', start: () => Promise<Closable>): void {
  let started: Closable | undefined;
  (per === 'block' ? before : beforeEach)(async () => {
    started = await start();
  });
  (per === 'block' ? after : afterEach)(async () => {
    const closing = started;
    started = undefined;
    await closing?.close();
  });
}
