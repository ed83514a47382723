// What the parts of the SessionStore conformance suite (store-suite.ts) share: the test runner's
// functions as the suite uses them, the stores it makes, and records shaped like the core's.
import { fail } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionRecord, SessionStore } from '../store.js';

// As narrow as every runner accepts: mocha, jest, vitest and node:test all take these.
export type Body = () => Promise<void>;
export type Describe = (title: string, body: () => void) => unknown;
export type It = (title: string, body: Body) => unknown;
export type Hook = (body: Body) => unknown;

/** What each part of the suite registers its tests with. */
export interface SuiteContext {
  it: It;
  /** A store from `makeStore`, cleaned up after the test. */
  store(): Promise<SessionStore>;
  /** True when the stores made share one backend (TestStoreOptions.shared). */
  shared: boolean;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Fails (with what to do) when the store cannot update only an existing session. */
export function requireUpdate(store: SessionStore): asserts store is SessionStore & { update: NonNullable<SessionStore['update']> } {
  if (typeof store.update !== 'function') {
    fail(
      'this store has no update(id, record, ttlMs): implement it. It must replace the record only while the id still exists, in one step ' +
        '(Redis SET ... XX, SQL UPDATE ... WHERE id = ?), and resolve whether it wrote; without it a save that races a logout brings the session back.',
    );
  }
}

/** A session id shaped like the core's: 32 random bytes, base64url. */
export function sampleId(): string {
  return randomBytes(32).toString('base64url');
}

/** A record as the core writes it, expiring `ttlMs` from now. */
export function sampleRecord(ttlMs = 60_000, extra: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    appId: 'wxTestAppId00000',
    openid: `oTest${randomBytes(9).toString('base64url')}`,
    sessionKey: randomBytes(16).toString('base64'),
    data: {},
    createdAt: now,
    expiresAt: now + ttlMs,
    keyCheckedAt: now,
    ...extra,
  };
}
