// Random bytes drawn 4 KiB at a time, as crypto.randomUUID does: one CSPRNG call for many session
// ids and IVs instead of one each. Every byte is handed out once, and wiped once used, so the pool
// never holds a value already given out.
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(4096);
let offset = pool.length;

/**
 * Calls `use` with `size` (at most 4096) fresh random bytes: a view into the pool, wiped once
 * `use` returns, so copy what must outlive the call.
 */
export function withRandomBytes<T>(size: number, use: (bytes: Buffer) => T): T {
  if (offset + size > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + size);
  offset += size;
  try {
    return use(bytes);
  } finally {
    bytes.fill(0);
  }
}
