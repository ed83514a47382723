// The processes the orchestrator starts, all through harness/process.ts (which also kills them if
// the orchestrator dies): the load generator (bench/load.ts, jobs over IPC), one server per
// variant (bench/server.ts), the one-shot scripts bench/heap.ts and bench/upstream.ts, and a
// private redis-server (harness/redis.ts).
import { join } from 'node:path';
import type { MockWeChat } from '../src/testing/index.js';
import { startChild, type Child } from '../harness/process.js';
import { hasRedisServer, startControlledRedis, type ControlledRedis } from '../harness/redis.js';
import type { LoadJob, LoadResult } from './load.js';
import { here, LIB_DIR, OPENID, root, type VariantSpec } from './settings.js';

/** How long heap.ts or upstream.ts may take on a busy machine before it counts as hung. */
const SCRIPT_MS = 10 * 60_000;
/** How long a server child may take to compile, listen and log in. */
const SERVER_READY_MS = 30_000;

const isReady = (line: { ready?: unknown }) => line.ready === true;

export interface LoadChild {
  child: Child;
  run(job: Omit<LoadJob, 'id'>): Promise<LoadResult>;
}

type LoadMessage = { type: 'result'; result: LoadResult } | { type: 'error'; id: number; message: string };

export async function startLoad(): Promise<LoadChild> {
  const child = startChild({ name: 'bench/load.ts', args: ['--import', 'tsx', join(here, 'load.ts')], cwd: root, ipc: true });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  child.process.on('message', (message: LoadMessage) => {
    const id = message.type === 'result' ? message.result.id : message.id;
    const job = waiting.get(id);
    waiting.delete(id);
    if (message.type === 'result') job?.resolve(message.result);
    else job?.reject(new Error(`load: ${message.message}`));
  });
  child.process.once('exit', (code) => {
    for (const job of waiting.values()) job.reject(new Error(`the load child exited (${code})\n${child.stderr}`));
    waiting.clear();
  });
  await child.waitForJson(isReady);
  return {
    child,
    run(job) {
      const id = nextId++;
      return new Promise<LoadResult>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.process.send({ ...job, id });
      });
    },
  };
}

export interface ServerHandle {
  spec: VariantSpec;
  child: Child;
  port: number;
  token?: string;
  cookie?: string;
  body?: string;
}

/** What the servers need to reach: the mock WeChat and, for the RedisStore variants, Redis. */
export interface Upstreams {
  mock: MockWeChat;
  redisUrl?: string;
}

/** Starts bench/server.ts for one variant and waits for its `{"ready":true,...}` line. */
export async function startServer(spec: VariantSpec, { mock, redisUrl }: Upstreams, extraEnv: Record<string, string> = {}): Promise<ServerHandle> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'production',
    VARIANT: spec.name,
    MOCK_URL: mock.url,
    APP_ID: mock.appId,
    APP_SECRET: mock.appSecret,
    OPENID,
    BENCH_LIB_DIR: LIB_DIR,
    ...extraEnv,
  };
  if (spec.name.startsWith('wx-') && spec.kind === 'get') env.LOGIN_CODE = mock.issueCode(OPENID);
  if (redisUrl) env.REDIS_URL = redisUrl;
  // stdin stays open: the server also exits when it closes, should the orchestrator die.
  const child = startChild({ name: `bench/server.ts ${spec.name}`, args: ['--import', 'tsx', join(here, 'server.ts')], env, cwd: root, stdin: 'pipe' });
  try {
    const ready = await child.waitForJson<{ port: number; token?: string; cookie?: string; body?: string }>(isReady, SERVER_READY_MS);
    return { spec, child, port: ready.port, token: ready.token, cookie: ready.cookie, body: ready.body };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/** Runs a script to its end and returns what it printed on its `RESULT {json}` line. */
export async function runScript(args: string[]): Promise<unknown> {
  const child = startChild({ name: args.join(' '), args, cwd: root });
  const { code } = await child.exited(SCRIPT_MS);
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`${args.join(' ')} exited ${code}:\n${child.stdout}${child.stderr}`);
  return JSON.parse(line.slice('RESULT '.length));
}

export interface BenchRedis {
  redis: ControlledRedis;
  url: string;
  version: string;
}

/** A private redis-server, or why there is none (the RedisStore variants are then skipped). */
export async function startRedis(): Promise<BenchRedis | { missing: string }> {
  if (!hasRedisServer) return { missing: 'redis-server is not installed (apt-get install redis-server): the RedisStore variants (wx-*-redis) are skipped' };
  const redis = await startControlledRedis();
  const info = await redis.client().info('server');
  const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? 'unknown';
  return { redis, url: `redis://127.0.0.1:${redis.port}`, version };
}
