// Heap bytes per session in MemoryStore: `node --expose-gc --import tsx bench/heap.ts`.
//
// Logging in 100k times through the mock would take minutes, so the records are built by the
// function src/core.ts `login` builds them with (`newRecord`, src/records.ts), with the same string lengths: openid 28
// characters, session_key 24 base64 characters, unionid 28 characters on half of them, the shared
// empty `data`, three epoch-ms numbers) and stored with `store.set(id, record, ttlMs)` under
// 43-character base64url ids from the same `newSessionId`. The heap is measured after full GCs
// before the store exists and after it holds every session, so the store's own structures
// (lru-cache's key/value lists, its TTL typed arrays) count towards the per-session figure.
//
// The core's verified tokens (`#verified`, a RecentMap of tokens whose signature already checked)
// are separate and bounded at VERIFIED_TOKENS entries whatever the number of sessions; measured
// on their own, as the core fills them: a flat header string, the id and secret index it carries.
//
// Env: HEAP_SESSIONS (default 100000). Prints a table, then one line `RESULT {json}`.
import { randomBytes } from 'node:crypto';
import { MemoryStore, type SessionRecord } from '../src/index.js';
import { newSessionId, signToken, verifyToken } from '../src/token.js';
import { VERIFIED_TOKENS } from '../src/core.js';
import { RecentMap } from '../src/recent-map.js';
import { Sealer, sessionKeyContext } from '../src/seal.js';
import { newRecord } from '../src/records.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('bench/heap.ts needs --expose-gc: node --expose-gc --import tsx bench/heap.ts\n');
  process.exit(2);
}

const COUNT = Number(process.env.HEAP_SESSIONS ?? 100_000);
const TTL_MS = 7 * 24 * 3600 * 1000;
const SECRET = 'bench-secret-bench-secret-bench-secret!';

interface Usage {
  heapUsed: number;
  arrayBuffers: number;
  external: number;
}

function settle(): Usage {
  for (let i = 0; i < 6; i++) gc!();
  const { heapUsed, arrayBuffers, external } = process.memoryUsage();
  return { heapUsed, arrayBuffers, external };
}

function openidLike(): string {
  // WeChat openids are 28 characters of [A-Za-z0-9_-], like the mock's.
  return `o${randomBytes(21).toString('base64url').slice(0, 27)}`;
}

const APP_ID = 'wxbench000000000';
const sealer = new Sealer(['bench-signing-secret-0123456789abcdef']);

/** A record as src/core.ts login makes it from a code2Session answer: the key sealed for its id. */
function record(id: string, withUnionid: boolean): SessionRecord {
  // code2Session's JSON is parsed, so the strings are flat heap strings of their own, as here.
  const wechat = JSON.parse(
    JSON.stringify({ openid: openidLike(), session_key: randomBytes(16).toString('base64'), ...(withUnionid ? { unionid: openidLike() } : {}) }),
  ) as { openid: string; session_key: string; unionid?: string };
  return newRecord({ appId: APP_ID, platform: 'wechat', openid: wechat.openid, unionid: wechat.unionid, sealedKey: sealer.seal(wechat.session_key, sessionKeyContext(APP_ID, id)), now: Date.now(), ttlMs: TTL_MS });
}

async function measureStore(): Promise<{ perSession: number; perSessionWithBuffers: number; heapDelta: number; buffersDelta: number; size: number }> {
  const before = settle();
  const store = new MemoryStore({ max: COUNT });
  for (let i = 0; i < COUNT; i++) {
    const id = newSessionId();
    await store.set(id, record(id, i % 2 === 0), TTL_MS);
  }
  const after = settle();
  const heapDelta = after.heapUsed - before.heapUsed;
  const buffersDelta = after.arrayBuffers - before.arrayBuffers;
  const size = store.size;
  // Keep the store alive until after the measurement.
  if (size !== COUNT) throw new Error(`the store holds ${size} sessions, not ${COUNT}`);
  return { perSession: heapDelta / COUNT, perSessionWithBuffers: (heapDelta + buffersDelta) / COUNT, heapDelta, buffersDelta, size };
}

function measureVerifiedLru(): { perEntry: number; total: number; entries: number } {
  const entries = VERIFIED_TOKENS;
  const before = settle();
  const verified = new RecentMap<string, { id: string; index: number }>(entries);
  for (let i = 0; i < entries; i++) {
    // A token as a request's header brings it: one flat string, parsed from the socket's bytes.
    const token = Buffer.from(signToken(newSessionId(), SECRET), 'latin1').toString('latin1');
    verified.set(token, verifyToken(token, [SECRET])!);
  }
  const after = settle();
  const total = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  if (verified.size !== entries) throw new Error('verified-token map not full');
  return { perEntry: total / entries, total, entries };
}

/** What this script prints on its RESULT line (bench/run.ts reads it). */
export interface HeapResult {
  sessions: number;
  bytesPerSession: number;
  heapUsedPerSession: number;
  arrayBuffersPerSession: number;
  verifiedLru: { entries: number; bytesPerEntry: number; totalBytes: number };
  node: string;
}

const store = await measureStore();
const verified = measureVerifiedLru();
const result: HeapResult = {
  sessions: COUNT,
  bytesPerSession: Math.round(store.perSessionWithBuffers),
  heapUsedPerSession: Math.round(store.perSession),
  arrayBuffersPerSession: Math.round(store.buffersDelta / COUNT),
  verifiedLru: { entries: verified.entries, bytesPerEntry: Math.round(verified.perEntry), totalBytes: verified.total },
  node: process.version,
};
console.log(`MemoryStore, ${COUNT} sessions: ${result.bytesPerSession} bytes/session (heapUsed ${result.heapUsedPerSession} + lru-cache typed arrays ${result.arrayBuffersPerSession})`);
console.log(`core verified-token LRU (bounded, ${verified.entries} entries when full): ${result.verifiedLru.bytesPerEntry} bytes/entry, ${(verified.total / 1048576).toFixed(2)} MiB at most`);
console.log(`RESULT ${JSON.stringify(result)}`);
