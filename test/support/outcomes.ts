// How the store tests look at what an operation did: its value or its error and how long it took,
// a value polled until it is right, and the unhandled rejections a piece of work left behind.
import { sleep } from '../../harness/apps.js';

/** What an operation did (`ms`: how long until it settled). */
export type Attempt<T> = ({ ok: true; value: T; error?: undefined } | { ok: false; value?: undefined; error: unknown }) & { ms: number };

export async function attempt<T>(op: () => Promise<T>): Promise<Attempt<T>> {
  const started = Date.now();
  try {
    const value = await op();
    return { ok: true, value, ms: Date.now() - started };
  } catch (error) {
    return { ok: false, error, ms: Date.now() - started };
  }
}

/** Polls `read` until `accept(value)` or `within` ms; returns the last value and when it was read. */
export async function pollUntil<T>(read: () => Promise<T>, accept: (value: T) => boolean, within: number, every = 5): Promise<{ value: T; ms: number; accepted: boolean }> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    const ms = Date.now() - started;
    if (accept(value)) return { value, ms, accepted: true };
    if (ms > within) return { value, ms, accepted: false };
    await sleep(every);
  }
}

/**
 * Runs `fn` with this test's own unhandled-rejection listener in place of the others (the root
 * hooks' would fail the *hook*, aborting the rest of the file), and returns what it caught, for
 * the test to assert on. `settleMs` lets late rejections surface before the listener is removed.
 */
export async function unhandledDuring(fn: () => Promise<void>, settleMs = 100): Promise<string[]> {
  const others = process.listeners('unhandledRejection');
  const caught: unknown[] = [];
  const mine = (reason: unknown) => caught.push(reason);
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', mine);
  try {
    await fn();
    await sleep(settleMs);
  } finally {
    process.off('unhandledRejection', mine);
    for (const listener of others) process.on('unhandledRejection', listener as (...args: unknown[]) => void);
  }
  return caught.map((reason) => (reason instanceof Error ? `${reason.message}\n${reason.stack}` : String(reason)));
}
