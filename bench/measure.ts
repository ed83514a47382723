// One run of one variant: a load job against its server, with the CPU each process used meanwhile
// (Linux /proc), to tell a server-bound run from a load-bound or a disturbed one. The login
// variants take fresh codes, issued beforehand by the mock in this process (CodePool).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { MockWeChat } from '../src/testing/index.js';
import type { LoadChild, ServerHandle } from './children.js';
import type { LoadJob, LoadResult } from './load.js';
import { CONNECTIONS, PIPELINING } from './settings.js';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine spent busy (every core; /proc/stat: all but idle and iowait). */
function machineBusySeconds(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Resident memory of a process, bytes. */
function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const OPENID_POOL = Array.from({ length: 1000 }, (_, i) => `oBenchLogin${String(i).padStart(17, '0')}`);

/** Login codes: the mock in this process issues them; the load child hands one to each request. */
export class CodePool {
  #codes: string[] = [];
  #cursor = 0;
  #issued = 0;
  #peakRps = 0;
  constructor(private readonly mock: MockWeChat) {}

  take(seconds: number): string[] {
    // Enough for twice the best rate seen so far (20k/s before any), topped up from the last run's leftovers.
    const need = Math.ceil(Math.max(this.#peakRps * 2, this.#peakRps === 0 ? 20_000 : 2_000) * seconds) + 1000;
    const left = this.#codes.length - this.#cursor;
    if (left < need) {
      this.#codes = this.#codes.slice(this.#cursor);
      this.#cursor = 0;
      for (let i = left; i < need; i++) this.#codes.push(this.mock.issueCode(OPENID_POOL[this.#issued++ % OPENID_POOL.length]));
    }
    return this.#codes.slice(this.#cursor, this.#cursor + need);
  }

  used(count: number, rps: number): void {
    this.#cursor += count;
    this.#peakRps = Math.max(this.#peakRps, rps);
  }
}

/** What every run uses: the mock (in this process), the load child, the login codes, and the redis-server counted as ours. */
export interface Rig {
  mock: MockWeChat;
  load: LoadChild;
  pool: CodePool;
  redisPid?: number;
}

export interface Sample extends LoadResult {
  variant: string;
  round: number;
  /** Share of one core the server child used during the run (1 = a full core). */
  serverCpu?: number;
  /** Server CPU time (user + system, all threads) per 2xx answer, µs: robust to a noisy machine. */
  cpuUsPerReq?: number;
  loadCpu?: number;
  mockCpu?: number;
  /** Cores used by processes other than the bench's during the run: the machine's noise. */
  otherCpu?: number;
  /** The server's resident memory after the run, bytes. */
  serverRss?: number;
}

function loadJob(server: ServerHandle, pool: CodePool, seconds: number): Omit<LoadJob, 'id'> {
  const { spec } = server;
  const headers: Record<string, string> = {};
  if (server.token) headers['x-wx-session'] = server.token;
  if (server.cookie) headers.cookie = server.cookie;
  const job: Omit<LoadJob, 'id'> = {
    url: `http://127.0.0.1:${server.port}`,
    path: spec.kind === 'login' ? (spec.name === 'wx-login' ? '/wx/login' : '/bare/login') : '/me',
    method: spec.kind === 'login' ? 'POST' : 'GET',
    headers,
    duration: seconds,
    connections: CONNECTIONS,
    pipelining: PIPELINING,
  };
  if (spec.kind === 'login') job.codes = pool.take(seconds);
  return job;
}

/** CPU seconds used so far: by the server, the load child, redis-server, the whole machine; the mock's is this process's. */
interface CpuReading {
  server?: number;
  load?: number;
  redis: number;
  machine?: number;
  mock: NodeJS.CpuUsage;
  at: number;
}

function readCpu(serverPid: number | undefined, rig: Rig): CpuReading {
  return {
    server: cpuSeconds(serverPid),
    load: cpuSeconds(rig.load.child.process.pid),
    redis: cpuSeconds(rig.redisPid) ?? 0,
    machine: machineBusySeconds(),
    mock: process.cpuUsage(),
    at: performance.now(),
  };
}

const delta = (after: number | undefined, before: number | undefined) => (after !== undefined && before !== undefined ? after - before : undefined);

export async function runVariant(server: ServerHandle, rig: Rig, seconds: number, round: number): Promise<Sample> {
  const { spec } = server;
  const pid = server.child.process.pid;
  const before = readCpu(pid, rig);
  const result = await rig.load.run(loadJob(server, rig.pool, seconds));
  const after = readCpu(pid, rig);
  const wall = (after.at - before.at) / 1000;
  const serverCpu = delta(after.server, before.server);
  const loadCpu = delta(after.load, before.load);
  const mockUsage = process.cpuUsage(before.mock);
  const mockCpu = (mockUsage.user + mockUsage.system) / 1e6;
  const machine = delta(after.machine, before.machine);
  let otherCpu: number | undefined;
  if (machine !== undefined && serverCpu !== undefined && loadCpu !== undefined) {
    otherCpu = Math.max(0, (machine - (serverCpu + loadCpu + (after.redis - before.redis) + mockCpu)) / wall);
  }
  if (spec.kind === 'login') {
    rig.pool.used(result.codesUsed ?? 0, result.rps);
    rig.mock.resetCalls(); // the mock records every call: keep its memory flat
  }
  return {
    ...result,
    variant: spec.name,
    round,
    serverCpu: serverCpu !== undefined ? serverCpu / wall : undefined,
    cpuUsPerReq: serverCpu !== undefined && result.ok > 0 ? (serverCpu * 1e6) / result.ok : undefined,
    loadCpu: loadCpu !== undefined ? loadCpu / wall : undefined,
    mockCpu: spec.kind === 'login' ? mockCpu / wall : undefined,
    otherCpu,
    serverRss: rssBytes(pid),
  };
}
