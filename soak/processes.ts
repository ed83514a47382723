// The soak's child processes: the two app instances (harness/instance-process.ts), whose every
// byte of output is kept for the secrets search, and the mock WeChat (soak/mock-process.ts),
// driven over IPC, started and stopped through harness/process.ts.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startInstance } from '../harness/instance-process.js';
import { startChild, type Child } from '../harness/process.js';
import type { MockReady, MockRequest, MockResults } from './mock-process.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MOCK_PROCESS = join(ROOT, 'soak', 'mock-process.ts');
const READY_WITHIN_MS = 15_000;

export interface Instance {
  name: string;
  url: string;
  /** Everything the process wrote, stdout and stderr apart (the harness keeps only the last 64 KiB). */
  stdout: string[];
  stderr: string[];
  /** Each `warn: ` line (without that), with when it arrived. */
  warnings: { at: number; message: string }[];
  /** SIGTERM (SIGKILL after 4 s); resolves to the exit code (null when killed by a signal). */
  stop(): Promise<number | null>;
}

/** An instance whose output is kept from its first byte on. */
async function startCapturedInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const instance = await startInstance(name, env, READY_WITHIN_MS);
  const { child } = instance;
  const stdout: string[] = [];
  const stderr: string[] = [];
  const warnings: Instance['warnings'] = [];
  let partial = '';
  const onStderr = (text: string) => {
    stderr.push(text);
    const lines = (partial + text).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.startsWith('warn: ')) warnings.push({ at: Date.now(), message: line.slice(6) });
  };
  // What it printed until now is in the harness's copy (a few lines: it has only just started);
  // every chunk from now on is kept here.
  stdout.push(child.stdout);
  onStderr(child.stderr);
  child.process.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk.toString()));
  child.process.stderr!.on('data', (chunk: Buffer) => onStderr(chunk.toString()));
  return { name, url: instance.url, stdout, stderr, warnings, stop: async () => (await instance.stop()).code };
}

/** Instances A and B on the same environment; when one cannot start, neither is left running. */
export async function startInstances(env: Record<string, string>): Promise<Instance[]> {
  const started = await Promise.allSettled(['A', 'B'].map((name) => startCapturedInstance(name, env)));
  const failed = started.find((result) => result.status === 'rejected');
  const instances = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  if (!failed) return instances;
  await Promise.all(instances.map((instance) => instance.stop()));
  throw failed.reason;
}

/** The mock WeChat in its own process (see soak/mock-process.ts for why). */
export interface MockControl {
  url: string;
  appId: string;
  appSecret: string;
  /** The offerId and both AppKeys (secrets: registered with the secrets scanner). */
  payment: MockReady['payment'];
  call<R extends MockRequest['op']>(request: { op: R } & Omit<Extract<MockRequest, { op: R }>, 'id' | 'op'>): Promise<MockResults[R]>;
  close(): Promise<void>;
}

type MockAnswer = { id: number; result?: unknown; error?: string };

/** The mock's ready message; rejects (the child killed) when it exits first or takes too long. */
function mockReady(child: Child): Promise<MockReady> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.process.kill('SIGKILL');
      reject(new Error(`soak: the mock process was not ready within 15 s: ${outputOf(child)}`));
    }, READY_WITHIN_MS);
    child.process.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`soak: the mock process exited (${code ?? signal}) before it was ready: ${outputOf(child)}`));
    });
    child.process.on('message', (message: MockReady | MockAnswer) => {
      if (!('ready' in message)) return;
      clearTimeout(timer);
      resolve(message);
    });
  });
}

const outputOf = (child: Child) => `${child.stdout}${child.stderr}`.slice(-4000);

export async function startMockProcess(): Promise<MockControl> {
  const child = startChild({ name: 'soak: the mock process', args: ['--import', 'tsx', MOCK_PROCESS], cwd: ROOT, ipc: true });
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  const gone = () => new Error(`soak: the mock process is gone: ${outputOf(child)}`);
  child.process.once('exit', () => {
    for (const waiter of pending.values()) waiter.reject(gone());
    pending.clear();
  });
  child.process.on('message', (message: MockReady | MockAnswer) => {
    if ('ready' in message) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(`soak: mock: ${message.error}`));
    else waiter?.resolve(message.result);
  });
  const { url, appId, appSecret, payment } = await mockReady(child);
  let next = 0;
  return {
    url,
    appId,
    appSecret,
    payment,
    call(request) {
      return new Promise((resolve, reject) => {
        if (!child.process.connected) return reject(gone());
        const id = next++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.process.send({ ...request, id });
      });
    },
    async close() {
      if (!child.alive()) return;
      // Without its IPC channel it closes the mock and exits; after 3 s it is killed instead.
      if (child.process.connected) child.process.disconnect();
      await child.exited(3000).catch(() => undefined);
    },
  };
}
