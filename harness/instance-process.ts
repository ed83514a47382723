// Starts harness/instance.ts (one app instance: the Express example's routes on a RedisStore) as a
// child process and waits for its ready line; for the multi-instance tests and the soak. The
// environment it reads is described at the top of harness/instance.ts.
import { fileURLToPath } from 'node:url';
import { startChild, type Child, type Exit } from './process.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const INSTANCE_PROGRAM = fileURLToPath(new URL('./instance.ts', import.meta.url));

export interface Instance {
  name: string;
  /** http://127.0.0.1:<port> */
  url: string;
  child: Child;
  alive(): boolean;
  /** The last of what it printed, stdout then stderr (for failure messages). */
  output(): string;
  /** SIGTERM (the instance closes its server, store and Redis client), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<Exit>;
}

/** Starts one instance with `env` over this process's environment (PORT 0 unless given). */
export async function startInstance(name: string, env: Record<string, string>, readyMs = 10_000): Promise<Instance> {
  const child = startChild({
    name: `instance ${name}`,
    args: ['--import', 'tsx', INSTANCE_PROGRAM],
    cwd: ROOT,
    env: { ...process.env, PORT: '0', ...env },
    stdin: 'pipe', // stays open while we live: the instance exits when it closes
  });
  let ready: { port: number };
  try {
    ready = await child.waitForJson<{ port: number }>((line) => line?.ready === true && typeof line.port === 'number', readyMs);
  } catch (error) {
    child.process.kill('SIGKILL');
    throw error;
  }
  return {
    name,
    url: `http://127.0.0.1:${ready.port}`,
    child,
    alive: () => child.alive(),
    output: () => `${child.stdout.slice(-4000)}${child.stderr.slice(-4000)}`,
    stop: (graceMs) => child.stop(graceMs),
  };
}
