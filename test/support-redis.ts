// Starts a private redis-server for a test suite: a free port on 127.0.0.1, a temp dir, nothing
// saved to disk. Without the binary, a suite fails under CI=true and skips loudly elsewhere.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

export interface RedisServer {
  port: number;
  url: string;
  /** A new client on this server (closed by stop()). */
  client(): Redis;
  /** Kills the server (SIGKILL: like a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was saved). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

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

function waitForExit(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}: ${output}`)), 10_000);
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
  return child;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxs-redis-'));
  let child = await launch(port, dir);
  const clients: Redis[] = [];
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client() {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async kill() {
      child.kill('SIGKILL');
      await waitForExit(child);
    },
    async restart() {
      child = await launch(port, dir);
    },
    async stop() {
      for (const client of clients) client.disconnect();
      child.kill('SIGTERM');
      await waitForExit(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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
