// Starts a private redis-server for a test suite: a free port on 127.0.0.1, a temp dir, nothing
// saved to disk (unless `persist`: then every acknowledged write survives a kill), with its pid
// and pause()/resume() (SIGSTOP/SIGCONT: a Redis that holds its connections open but answers
// nothing, i.e. a slow Redis). Every server started here is killed when the test process exits,
// whatever happened (harness/process.ts). Without the binary, a suite fails under CI=true and skips
// loudly elsewhere. launchRedisServer is also how harness/cluster.ts starts its nodes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { requireProgram, startChild, type Child } from './process.js';

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ControlledRedisOptions {
  /**
   * Keep every acknowledged write across kill() + restart(): the server runs with an append-only
   * file in its temp dir, fsynced before each reply (`--appendonly yes --appendfsync always`).
   * @default false (nothing saved: a restart comes up empty)
   */
  persist?: boolean;
}

export interface ControlledRedis {
  port: number;
  /** The pid of the running redis-server (changes on restart). */
  readonly pid: number;
  /** A new client on this server (disconnected by stop()); an outage surfaces after one retry. */
  client(): Redis;
  /** SIGKILL, like a crash; nothing was saved (with `persist`, every acknowledged write was). */
  kill(): Promise<void>;
  /** Starts it again on the same port: empty, or with `persist` holding every acknowledged write. */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered. */
  pause(): void;
  /** SIGCONT: the queued commands are answered. */
  resume(): void;
  readonly paused: boolean;
  /** False after kill() until restart(). */
  readonly running: boolean;
  stop(): Promise<void>;
}

export interface RedisServerLaunch {
  port: number;
  dir: string;
  persist: boolean;
  /** More redis-server arguments (e.g. the cluster's). */
  extraArgs?: string[];
}

/** Starts redis-server on 127.0.0.1:`port` with its files in `dir`; resolves once it accepts connections. */
export async function launchRedisServer({ port, dir, persist, extraArgs = [] }: RedisServerLaunch): Promise<Child> {
  const durability = persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...durability, '--protected-mode', 'no', ...extraArgs];
  const child = startChild({ name: `redis-server on port ${port}`, command: 'redis-server', args });
  try {
    await child.waitFor(/Ready to accept connections/, 10_000);
  } catch (error) {
    child.process.kill('SIGKILL');
    throw error;
  }
  return child;
}

/** SIGCONT (a paused server cannot die), SIGKILL, and wait until it is gone. */
export async function killRedisServer(child: Child): Promise<void> {
  if (child.alive()) {
    child.process.kill('SIGCONT');
    child.process.kill('SIGKILL');
  }
  await child.exited();
}

export async function startControlledRedis(options: ControlledRedisOptions = {}): Promise<ControlledRedis> {
  const persist = options.persist === true;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxs-redis-fault-'));
  let child = await launchRedisServer({ port, dir, persist });
  let paused = false;
  const clients: Redis[] = [];
  return {
    port,
    get pid() {
      return child.process.pid!;
    },
    get paused() {
      return paused;
    },
    get running() {
      return child.alive();
    },
    client() {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async kill() {
      child.process.kill('SIGKILL');
      paused = false;
      await child.exited();
    },
    async restart() {
      if (child.alive()) throw new Error('redis-server is still running');
      child = await launchRedisServer({ port, dir, persist });
    },
    pause() {
      if (!child.process.kill('SIGSTOP')) throw new Error('could not SIGSTOP redis-server');
      paused = true;
    },
    resume() {
      if (!child.process.kill('SIGCONT')) throw new Error('could not SIGCONT redis-server');
      paused = false;
    },
    async stop() {
      for (const client of clients) client.disconnect();
      await killRedisServer(child);
      paused = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Call at the top of a describe() that needs Redis. Under CI=true a missing redis-server fails
 * the suite; elsewhere the suite is skipped with a loud message.
 */
export function requireRedis(suite: Mocha.Suite): void {
  requireProgram(suite, hasRedisServer, 'redis-server', 'the Redis tests', 'redis-server');
}
