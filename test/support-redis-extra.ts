// A variant of support-redis's startRedis() for the fault tests: the same private redis-server
// (free port on 127.0.0.1, temp dir, nothing saved), plus its pid and pause()/resume() (SIGSTOP /
// SIGCONT: a Redis that holds its connections open but answers nothing, i.e. a slow Redis).
// Every server started here is also killed when the test process exits, whatever happened.
// Also: INFO commandstats counters, PUBSUB NUMSUB waits, and a TCP proxy that can hold Redis's
// answers to one connection (to stop a client between two steps of a reconnection).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './support-redis.js';

export { hasRedisServer, requireRedis } from './support-redis.js';

export interface ControlledRedis {
  port: number;
  /** The pid of the running redis-server (changes on restart). */
  readonly pid: number;
  /** A new client on this server (disconnected by stop()); an outage surfaces after one retry. */
  client(): Redis;
  /** SIGKILL, like a crash; nothing was saved. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
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

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
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

export async function startControlledRedis(): Promise<ControlledRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'wxs-redis-fault-'));
  let child = await launch(port, dir);
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
      child = await launch(port, dir);
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

export interface HoldingProxy {
  port: number;
  /**
   * From now on, the first connection that sends `command` (e.g. 'info', ioredis's ready check
   * after a reconnect, or 'get') gets no more answers until release(command): Redis runs what it
   * is sent, the client just does not hear back.
   */
  holdWhenSent(command: string): void;
  /** How many connections are held by `command`'s trigger. */
  holding(command: string): number;
  /** Delivers what those connections were not told, and stops holding them. */
  release(command?: string): void;
  /** Cuts the connections that ever sent `command` (e.g. 'subscribe'), or every connection. */
  drop(command?: string): void;
  close(): Promise<void>;
}

interface ProxiedPair {
  client: Socket;
  upstream: Socket;
  /** What the client sent, lower case (the first 64 KiB). */
  sent: string;
  heldBy?: string;
  held: Buffer[];
}

const sentCommand = (text: string, command: string) => text.includes(`\r\n${command.toLowerCase()}\r\n`);

/** A TCP proxy in front of a Redis that can hold its answers, to freeze a client at a chosen point. */
export function startHoldingProxy(targetPort: number): Promise<HoldingProxy> {
  const pairs = new Set<ProxiedPair>();
  const triggers = new Set<string>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: ProxiedPair = { client, upstream, sent: '', held: [] };
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1').toLowerCase();
      if (pair.sent.length < 65_536) pair.sent += text;
      if (!pair.heldBy) {
        for (const trigger of triggers) {
          if (sentCommand(text, trigger)) {
            pair.heldBy = trigger;
            triggers.delete(trigger);
            break;
          }
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.heldBy) pair.held.push(chunk);
      else client.write(chunk);
    });
  });
  const close = (pair: ProxiedPair) => {
    pair.client.destroy();
    pair.upstream.destroy();
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        holdWhenSent(command) {
          triggers.add(command.toLowerCase());
        },
        holding(command) {
          return [...pairs].filter((pair) => pair.heldBy === command.toLowerCase()).length;
        },
        release(command) {
          if (command === undefined) triggers.clear();
          else triggers.delete(command.toLowerCase());
          for (const pair of pairs) {
            if (!pair.heldBy || (command !== undefined && pair.heldBy !== command.toLowerCase())) continue;
            pair.heldBy = undefined;
            for (const chunk of pair.held.splice(0)) pair.client.write(chunk);
          }
        },
        drop(command) {
          for (const pair of pairs) if (command === undefined || sentCommand(pair.sent, command)) close(pair);
        },
        close() {
          for (const pair of pairs) close(pair);
          return new Promise<void>((done) => server.close(() => done()));
        },
      });
    });
  });
}

/** Waits until `check()` is true (every 10 ms, at most `within` ms). */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, within = 3000): Promise<void> {
  const deadline = Date.now() + within;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Calls of one command in `INFO commandstats` (cmdstat_<name>:calls=N), 0 when never called. */
export async function commandCalls(client: Redis, command: string): Promise<number> {
  const info = await client.info('commandstats');
  const match = new RegExp(`^cmdstat_${command.toLowerCase()}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

/** Waits until `count` connections subscribe to `channel` (PUBSUB NUMSUB), then a little more. */
export async function waitForSubscribers(client: Redis, channel: string, count: number, within = 5000): Promise<void> {
  const deadline = Date.now() + within;
  for (;;) {
    const reply = (await client.pubsub('NUMSUB', channel)) as [string, number | string];
    if (Number(reply[1]) >= count) break;
    if (Date.now() > deadline) throw new Error(`${channel} has ${reply[1]} subscribers, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The subscriber's own promise settles right after Redis counted it.
  await new Promise((resolve) => setTimeout(resolve, 30));
}
