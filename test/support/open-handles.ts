// What still holds the event loop open after the last test. Mocha runs with `exit: true`
// (.mocharc.json), so a forgotten socket or timer cannot keep a CI run waiting for its time limit;
// this report names what was forgotten, so that the leak is found rather than hidden.

const BASELINE = countKinds(process.getActiveResourcesInfo());

function countKinds(kinds: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** Resources beyond those open when the tests started (stdio pipes and the like). */
export function extraResources(): string[] {
  const extra: string[] = [];
  for (const [kind, count] of countKinds(process.getActiveResourcesInfo())) {
    const more = count - (BASELINE.get(kind) ?? 0);
    for (let i = 0; i < more; i++) extra.push(kind);
  }
  return extra;
}

interface HandleLike {
  constructor?: { name?: string };
  remoteAddress?: string;
  remotePort?: number;
  localPort?: number;
  pid?: number;
  spawnfile?: string;
  spawnargs?: string[];
  address?: () => unknown;
  _isStdio?: boolean;
  hasRef?: () => boolean;
}

/** One line per live handle that keeps the process alive: its kind and what it is connected to.
 * (Timers are not handles: `extraResources` counts them as 'Timeout'.) */
export function describeHandles(): string[] {
  const getHandles = (process as unknown as { _getActiveHandles?: () => HandleLike[] })._getActiveHandles;
  if (typeof getHandles !== 'function') return [];
  const lines: string[] = [];
  for (const handle of getHandles.call(process)) {
    if ((handle.hasRef && !handle.hasRef()) || handle._isStdio) continue;
    const kind = handle.constructor?.name ?? 'handle';
    if (handle.pid !== undefined) lines.push(`${kind} pid ${handle.pid}: ${[handle.spawnfile, ...(handle.spawnargs ?? []).slice(1)].join(' ')}`);
    else if (handle.remotePort !== undefined) lines.push(`${kind} ${handle.localPort} -> ${handle.remoteAddress}:${handle.remotePort}`);
    else if (typeof handle.address === 'function') lines.push(`${kind} on ${JSON.stringify(safe(() => handle.address?.()))}`);
    else lines.push(kind);
  }
  return lines;
}

function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Waits up to `ms` for the event loop to let go; returns what is still open then. */
export async function lingering(ms: number): Promise<string[]> {
  const until = Date.now() + ms;
  // Checked between waits, when this wait's own timer has fired and is gone.
  while (extraResources().length > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
  return extraResources();
}
