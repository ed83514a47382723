// Starts a private redis-server for a test suite: a free port on 127.0.0.1, a temp dir, nothing
// saved to disk (unless `persist`: then every acknowledged write survives a kill), with its pid
// and pause()/resume() (SIGSTOP/SIGCONT: a Redis that holds its connections open but answers
// nothing, i.e. a slow Redis). Every server started here is killed when the test process exits,
// whatever happened. Without the binary, a suite fails under CI=true and skips loudly elsewhere.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

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

const hasSetpriv = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess): Promise<void> {
  return exited(child) ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function launch(port: number, dir: string, persist: boolean): Promise<ChildProcess> {
  const durability = persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...durability, '--protected-mode', 'no'];
  // With setpriv the server gets SIGKILL should this process die without running its exit hooks
  // (setpriv execs redis-server: same pid, so SIGSTOP/SIGCONT still reach it).
  const child = hasSetpriv
    ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'redis-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on port ${port}: ${output}`));
    }, 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

export async function startControlledRedis(options: ControlledRedisOptions = {}): Promise<ControlledRedis> {
  const persist = options.persist === true;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxs-redis-fault-'));
  let child = await launch(port, dir, persist);
  let paused = false;
  const clients: Redis[] = [];
  return {
    port,
    get pid() {
      return child.pid!;
    },
    get paused() {
      return paused;
    },
    get running() {
      return !exited(child);
    },
    client() {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async kill() {
      child.kill('SIGKILL');
      paused = false;
      await waitForExit(child);
    },
    async restart() {
      if (!exited(child)) throw new Error('redis-server is still running');
      child = await launch(port, dir, persist);
    },
    pause() {
      if (!child.kill('SIGSTOP')) throw new Error('could not SIGSTOP redis-server');
      paused = true;
    },
    resume() {
      if (!child.kill('SIGCONT')) throw new Error('could not SIGCONT redis-server');
      paused = false;
    },
    async stop() {
      for (const client of clients) client.disconnect();
      if (!exited(child)) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await waitForExit(child);
      }
      paused = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Redis every suite uses: see ControlledRedis. */
export const startRedis = startControlledRedis;
export type RedisServer = ControlledRedis;

/**
 * Call at the top of a describe() that needs Redis. Under CI=true a missing redis-server fails
 * the suite; elsewhere the suite is skipped with a loud message.
 */
export function requireRedis(suite: Mocha.Suite): void {
  if (hasRedisServer) return;
  if (process.env.CI === 'true') {
    suite.beforeAll(() => {
      throw new Error('redis-server is not installed, and CI=true requires the Redis tests to run (apt-get install redis-server)');
    });
    return;
  }
  console.warn(`\n  !!! redis-server not found: SKIPPING "${suite.title}" (apt-get install redis-server to run it)\n`);
  suite.beforeAll(function () {
    this.skip();
  });
}
