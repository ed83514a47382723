// my-store.ts: a SessionStore to start yours from. It keeps rows in a Map, so it runs as it is;
// each method names the SQL it stands for, on a table sessions(id, openid, created_at,
// expires_at, record). Every method must be one step on the database (no read-then-write).
import type { SessionRecord, SessionStore } from 'wx-session';

interface Row {
  openid: string;
  createdAt: number;
  expiresAt: number;
  record: string;
}

export class MapStore implements SessionStore {
  readonly #rows = new Map<string, Row>();

  /** The row while it lives: `... WHERE id = ? AND expires_at > now()`. */
  #live(id: string): Row | undefined {
    const row = this.#rows.get(id);
    if (row === undefined || row.expiresAt > Date.now()) return row;
    this.#rows.delete(id); // expired: as good as gone
    return undefined;
  }

  // SELECT record FROM sessions WHERE id = ? AND expires_at > now()
  async get(id: string): Promise<SessionRecord | undefined> {
    const row = this.#live(id);
    return row && (JSON.parse(row.record) as SessionRecord);
  }

  // INSERT INTO sessions ... ON CONFLICT (id) DO UPDATE SET ...
  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.#rows.set(id, { openid: record.openid, createdAt: record.createdAt, expiresAt: Date.now() + ttlMs, record: JSON.stringify(record) });
  }

  // UPDATE sessions SET record = ?, expires_at = ? WHERE id = ? AND expires_at > now(): true when a row changed
  async update(id: string, record: SessionRecord, ttlMs: number): Promise<boolean> {
    if (!this.#live(id)) return false;
    await this.set(id, record, ttlMs);
    return true;
  }

  // UPDATE sessions SET expires_at = ?, record = jsonb_set(record, '{expiresAt}', ?) WHERE id = ? AND expires_at > now()
  async touch(id: string, ttlMs: number): Promise<void> {
    const row = this.#live(id);
    if (!row) return;
    row.expiresAt = Date.now() + ttlMs;
    row.record = JSON.stringify({ ...(JSON.parse(row.record) as SessionRecord), expiresAt: row.expiresAt });
  }

  // DELETE FROM sessions WHERE id = ?
  async destroy(id: string): Promise<void> {
    this.#rows.delete(id);
  }

  // DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE openid = ? AND expires_at > now()
  //   ORDER BY created_at DESC OFFSET ?): the user's newest `max` live sessions stay
  async limitSessions(openid: string, max: number): Promise<number> {
    const mine = [...this.#rows.keys()].filter((id) => this.#live(id)?.openid === openid);
    mine.sort((a, b) => this.#rows.get(b)!.createdAt - this.#rows.get(a)!.createdAt);
    for (const id of mine.slice(max)) this.#rows.delete(id);
    return Math.max(0, mine.length - max);
  }
}
