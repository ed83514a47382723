// Running the snippets of README.md and docs/ (docs/snippets/*) as users run them, for the
// docs-*.test.ts files: a program as a child process (`node --import tsx`), with only the
// variables a test gives it, against the mock WeChat that its suite starts. Children started
// during a test are stopped after it, whatever happened; what they print is only shown when a
// test fails (the witness, test/support/setup.ts, still searches it for the secrets handed to them).
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { startChild, type Child } from '../../harness/process.js';
import { ROOT, SNIPPETS } from '../../scripts/snippets.js';
import { addSecret } from './witness.js';
import { call } from './http.js';

export const SECRET = 'docs-test-signing-secret-0123456789abcdef';
export const NEW_SECRET = 'docs-test-newer-signing-secret-0123456789';

/** The variables a snippet reads; a child gets only those its test names. */
const OURS = ['WX_APPID', 'WX_APPSECRET', 'WX_SESSION_SECRET', 'WX_API_BASE', 'REDIS_URL'] as const;

export type Vars = Record<string, string | undefined>;

/** Children stopped after the running test; a suite's own are left to the suite. */
const perTest = new Set<Child>();

afterEach(async () => {
  const children = [...perTest];
  perTest.clear();
  await Promise.all(children.map((child) => child.stop(1000)));
});

export interface RunOptions {
  /** Modules loaded with `--import` before the snippet (a fake `wx`). */
  preload?: string[];
  /** Stopped by its suite, not after each test. */
  suite?: boolean;
}

/** `node <args>` in the repository, on PORT 0, with the given variables of ours only. */
export function runNode(name: string, args: string[], vars: Vars = {}, options: Pick<RunOptions, 'suite'> = {}): Child {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ...vars };
  for (const variable of OURS) if (!(variable in vars)) delete env[variable];
  const child = startChild({ name, args, env, cwd: ROOT });
  if (!options.suite) perTest.add(child);
  return child;
}

/** `node --import tsx docs/snippets/<name>`, as a user runs a program. */
export function runSnippet(name: string, vars: Vars = {}, options: RunOptions = {}): Child {
  const preload = (options.preload ?? []).flatMap((file) => ['--import', file]);
  return runNode(name, ['--import', 'tsx', ...preload, `${SNIPPETS}/${name}`], vars, options);
}

/** The exit code (the signal's name when killed). */
export async function exitOf(child: Child, ms?: number): Promise<number | string | null> {
  const { code, signal } = await child.exited(ms);
  return code ?? signal;
}

export interface Server {
  child: Child;
  url: string;
  /** SIGTERM; resolves to the exit code. */
  stop(): Promise<number | string | null>;
}

/** Starts a server snippet and waits for its `listening on http://...` line. */
export async function startServer(name: string, vars: Vars, options: RunOptions = {}): Promise<Server> {
  const child = runSnippet(name, vars, options);
  const [, port] = await child.waitFor(/listening on http:\/\/(?:localhost|127\.0\.0\.1):(\d+)/);
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      const { code, signal } = await child.stop();
      return code ?? signal;
    },
  };
}

/** Logs in through a snippet's login route; its token and openid. */
export async function login(url: string, code: string, path = '/wx/login'): Promise<{ token: string; openid: string }> {
  const answer = await call(`${url}${path}`, { json: { code } });
  expect(answer.status, `login: ${answer.text}`).to.equal(200);
  return { token: answer.body.token as string, openid: answer.body.openid as string };
}

export interface SnippetWeChat {
  readonly mock: MockWeChat;
  /** What a snippet needs to talk to the mock WeChat, as the real ones read it. */
  readonly env: Record<string, string>;
}

/** A mock WeChat for the calling suite, its secrets handed to the witness; faults cleared after each test. */
export function snippetWeChat(): SnippetWeChat {
  let mock: MockWeChat | undefined;
  before(async () => {
    mock = await startMockWeChat();
    addSecret(mock.appSecret, 'appSecret');
    addSecret(SECRET, 'signing secret');
    addSecret(NEW_SECRET, 'signing secret');
  });
  after(() => mock?.close());
  afterEach(() => mock?.clearFaults());
  return {
    get mock() {
      return mock!;
    },
    get env() {
      return { WX_APPID: mock!.appId, WX_APPSECRET: mock!.appSecret, WX_SESSION_SECRET: SECRET, WX_API_BASE: mock!.url };
    },
  };
}
