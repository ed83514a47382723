// Child processes for the tests, the soak and the benchmarks: start a program, keep what it prints
// (the last 64 KiB of each stream), wait for the line that says it is ready, stop it (SIGTERM, then
// SIGKILL after a grace period). Every child started here is SIGKILLed when this process exits;
// where setpriv exists it also gets SIGKILL should this process die without running its exit hooks
// (setpriv execs the program: same pid, so signals sent to the child still reach the program).
// requireProgram skips (or under CI=true fails) a suite when a program it needs is not installed.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions, type StdioOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface ChildOptions {
  /** Used in error messages. */
  name: string;
  /** e.g. ['--import', 'tsx', 'harness/instance.ts'] */
  args: string[];
  /** @default process.execPath */
  command?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** 'pipe': stdin stays open while this process lives (a child can exit when it closes). @default 'ignore' */
  stdin?: 'pipe' | 'ignore';
  /** Add an IPC channel (child.process.send / 'message'). */
  ipc?: boolean;
  /** Also copy the child's output to this process's stdout/stderr as it comes. @default false */
  echo?: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** Everything printed so far (the last 64 KiB). */
  readonly stdout: string;
  /** Everything printed so far on stderr (the last 64 KiB). */
  readonly stderr: string;
  alive(): boolean;
  /** Resolves with the first match in stdout (or 'stderr'); rejects, with the output, when the child exits first or after ms (default 20 s). */
  waitFor(pattern: RegExp, ms?: number, stream?: 'stdout' | 'stderr'): Promise<RegExpExecArray>;
  /** The first stdout line that parses as JSON and passes `test`; same rejections. */
  waitForJson<T>(test: (value: any) => boolean, ms?: number): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Waits for exit; after ms (default 20 s) kills it with SIGKILL and rejects with the output. */
  exited(ms?: number): Promise<Exit>;
  /** SIGTERM, then SIGKILL after graceMs (default 4000). Resolves to how it ended. */
  stop(graceMs?: number): Promise<Exit>;
}

/** How much of each stream is kept. */
const KEEP = 64 * 1024;
const DEFAULT_WAIT_MS = 20_000;

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(
  (path) => existsSync(path) && spawnSync(path, ['--pdeathsig', 'KILL', '--', 'true']).status === 0,
);

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

const isAlive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** The last lines of both streams, for error messages. */
function tail(stdout: string, stderr: string): string {
  const last = (text: string) => (text.length > 4000 ? `...${text.slice(-4000)}` : text);
  return `\n--- stdout ---\n${last(stdout)}\n--- stderr ---\n${last(stderr)}`;
}

export function startChild(options: ChildOptions): Child {
  return new RunningChild(options);
}

class RunningChild implements Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly #output = { stdout: '', stderr: '' };
  /** Called on every chunk (false) and once when the child is gone (true); each waiter settles itself. */
  readonly #watchers = new Set<(gone: boolean) => void>();
  #gone = false;

  constructor(options: ChildOptions) {
    this.name = options.name;
    const command = options.command ?? process.execPath;
    const stdio: StdioOptions = [options.stdin ?? 'ignore', 'pipe', 'pipe', ...(options.ipc ? ['ipc' as const] : [])];
    const spawnOptions: SpawnOptions = { cwd: options.cwd, env: withoutCoverage(options.env ?? process.env), stdio };
    const child: ChildProcess = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...options.args], spawnOptions)
      : spawn(command, options.args, spawnOptions);
    this.process = child;
    running.add(child);
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]!.on('data', (chunk: Buffer) => {
        if (options.echo) process[stream].write(chunk);
        this.#output[stream] = (this.#output[stream] + chunk.toString()).slice(-KEEP);
        for (const watch of [...this.#watchers]) watch(false);
      });
    }
    // 'close' comes once the pipes are drained too; 'exit' alone may come before the last output.
    child.once('close', () => this.#settle());
    child.once('exit', () => setTimeout(() => this.#settle(), 200).unref());
    child.once('error', (error) => {
      this.#output.stderr += `\n${options.name}: ${error.message}`;
      this.#settle();
    });
  }

  get stdout(): string {
    return this.#output.stdout;
  }

  get stderr(): string {
    return this.#output.stderr;
  }

  alive(): boolean {
    return isAlive(this.process);
  }

  #settle(): void {
    if (this.#gone) return;
    this.#gone = true;
    running.delete(this.process);
    for (const watch of [...this.#watchers]) watch(true);
  }

  #ended(): Exit {
    return { code: this.process.exitCode, signal: this.process.signalCode };
  }

  #failure(why: string): Error {
    return new Error(`${this.name} ${why}${tail(this.#output.stdout, this.#output.stderr)}`);
  }

  /** Resolves with the first non-undefined `find()`, checked now and on each chunk. */
  #until<T>(find: () => T | undefined, what: string, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const watch = (gone: boolean) => {
        const found = find();
        if (found === undefined && !gone) return;
        this.#watchers.delete(watch);
        clearTimeout(timer);
        if (found !== undefined) resolve(found);
        else reject(this.#failure(`exited (${this.process.exitCode ?? this.process.signalCode}) before ${what}`));
      };
      const timer = setTimeout(() => {
        this.#watchers.delete(watch);
        reject(this.#failure(`did not print ${what} within ${ms} ms`));
      }, ms);
      this.#watchers.add(watch);
      watch(this.#gone);
    });
  }

  waitFor(pattern: RegExp, ms = DEFAULT_WAIT_MS, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpExecArray> {
    const once = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return this.#until(() => once.exec(this.#output[stream]) ?? undefined, `${pattern} on ${stream}`, ms);
  }

  waitForJson<T>(test: (value: any) => boolean, ms = DEFAULT_WAIT_MS): Promise<T> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const find = (): T | undefined => {
      for (const line of this.#output.stdout.split('\n').slice(0, -1)) {
        try {
          const value: unknown = JSON.parse(line);
          if (test(value)) return value as T;
        } catch {
          // not JSON: the next line
        }
      }
      return undefined;
    };
    return this.#until(find, 'the awaited JSON line', ms);
  }

  exited(ms = DEFAULT_WAIT_MS): Promise<Exit> {
    if (this.#gone) return Promise.resolve(this.#ended());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#watchers.delete(watch);
        this.process.kill('SIGKILL');
        reject(this.#failure(`did not exit within ${ms} ms (killed)`));
      }, ms);
      const watch = (gone: boolean) => {
        if (!gone) return;
        this.#watchers.delete(watch);
        clearTimeout(timer);
        resolve(this.#ended());
      };
      this.#watchers.add(watch);
    });
  }

  async stop(graceMs = 4000): Promise<Exit> {
    if (!this.alive()) return this.exited();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    this.process.kill('SIGTERM');
    const how = await this.exited(graceMs + DEFAULT_WAIT_MS);
    clearTimeout(timer);
    return how;
  }
}

/**
 * The child's environment with coverage off. Under c8 the test process loads src/ through tsx's
 * CommonJS hook while a child (`node --import tsx ...`) loads the same files as ES modules: c8
 * merges the two by file name although the compiled code differs, and reports lines the test
 * process ran as never run. So the coverage gate counts the test process alone. (Node passes
 * NODE_V8_COVERAGE on to every child unless the child's env names it: hence '' rather than absent.)
 */
function withoutCoverage(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.NODE_V8_COVERAGE === undefined && process.env.NODE_V8_COVERAGE === undefined ? env : { ...env, NODE_V8_COVERAGE: '' };
}

/**
 * Call at the top of a describe() that needs a program of the system (redis-server, Chromium).
 * Fails `suite` under CI=true when `installed` is false, else skips it loudly (`missing` names
 * the programs, `packages` the Debian packages that install them).
 */
export function requireProgram(suite: Mocha.Suite, installed: boolean, missing: string, tests: string, packages: string): void {
  if (installed) return;
  if (process.env.CI === 'true') {
    suite.beforeAll(() => {
      throw new Error(`${missing} is not installed, and CI=true requires ${tests} to run (apt-get install ${packages})`);
    });
    return;
  }
  console.warn(`\n  !!! ${missing} not found: SKIPPING "${suite.title}" (apt-get install ${packages} to run it)\n`);
  suite.beforeAll(function () {
    this.skip();
  });
}
