// Extras for the Redis fault tests: INFO commandstats counters, PUBSUB NUMSUB waits, a polling
// waitFor, and a TCP proxy that can hold Redis's answers to one connection (to stop a client
// between two steps of a reconnection). The server itself comes from harness/redis.ts.
import { connect, createServer, type Socket } from 'node:net';
import type { Redis } from 'ioredis';

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
