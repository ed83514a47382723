// A logout is final even within one turn of the event loop (SECURITY.md, "A stolen token"), on a
// real redis-server: another instance logs a session out, and a request for it that reaches this
// process in the same turn as the announcement does not get the cached copy.
import { createServer } from 'node:net';
import { expect } from 'chai';
import { sampleId, sampleRecord } from '../src/testing/index.js';
import { startChild } from '../harness/process.js';
import { waitFor, waitForSubscribers } from '../harness/redis-tools.js';
import { useRedisStores } from './support/redis-store-kit.js';

/**
 * Another instance, as a child process: connects to PORT (this test's "HTTP" socket) and waits;
 * on "go" it sends the first bytes of a request, logs KEY out in Redis and announces it on
 * CHANNEL as a RedisStore does, and only then sends the rest of the request.
 */
const OTHER_INSTANCE = `
const net = require('node:net');
const resp = (...args) => '*' + args.length + '\\r\\n' + args.map((a) => '$' + Buffer.byteLength(a) + '\\r\\n' + a + '\\r\\n').join('');
const request = net.connect(Number(process.env.PORT), '127.0.0.1', () => {
  const redis = net.connect(Number(process.env.REDIS_PORT), '127.0.0.1', () => {
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      request.write('x');
      redis.write(resp('DEL', process.env.KEY));
      redis.once('data', () => {
        redis.write(resp('PUBLISH', process.env.CHANNEL, process.env.MESSAGE));
        redis.once('data', () => {
          request.write('y');
          process.stdout.write('done\\n');
        });
      });
    });
  });
});
`;

describe('RedisStore on a real Redis: a logout within one event-loop turn', function () {
  const kit = useRedisStores(this);

  it('a request read in the same event-loop turn as the announcement of a logout does not get the cached copy', async () => {
    // Another instance logs the session out and then a request for it reaches this process on a
    // connection that already had unread bytes (a proxy's keep-alive connection): the request's
    // socket is read before the subscription's, in one turn of the loop. A cached copy must
    // only be answered once the loop has read every socket that was ready.
    const { admin } = kit;
    const b = kit.store({ prefix: 'turn:' });
    await waitForSubscribers(admin, 'turn:changed', 1);
    const id = sampleId();
    await b.set(id, sampleRecord(), 60_000);
    await kit.expectCached(b, id, undefined, 'B has the session cached');

    const answers: unknown[] = [];
    let accepted = false;
    const server = createServer((socket) => {
      accepted = true;
      socket.on('data', (chunk: Buffer) => {
        if (chunk.includes('y')) b.get(id).then((record) => answers.push(record ?? 'none'), (error: unknown) => answers.push(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const child = startChild({
      name: 'the other instance',
      args: ['-e', OTHER_INSTANCE],
      stdin: 'pipe',
      env: { ...process.env, PORT: String((server.address() as { port: number }).port), REDIS_PORT: String(kit.redis.port), KEY: `turn:${id}`, CHANNEL: 'turn:changed', MESSAGE: `another-instance ${id}` },
    });
    try {
      await waitFor(() => child.stdout.includes('ready') && accepted, 'the other instance connected');
      child.process.stdin!.write('go\n');
      const until = Date.now() + 400; // busy: the bytes, the logout and the request all arrive meanwhile
      while (Date.now() < until) {
        // spin
      }
      await waitFor(() => answers.length === 1, 'the answer to the request');
      expect(child.stdout).to.include('done');
      expect(await admin.exists(`turn:${id}`)).to.equal(0);
      expect(answers[0], 'the request after the logout got the cached session').to.equal('none');
    } finally {
      await child.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
