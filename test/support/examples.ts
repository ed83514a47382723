// The example servers (examples/express, koa, fastify, hono, nestjs) for the examples-*.test.ts files:
// the examples side by side (each runs the same tests), each app on a real port in front of a
// fresh mock WeChat, and each example run as a user runs it (`node --import tsx examples/...`).
import type { RequestListener, Server } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import type { FastifyInstance } from 'fastify';
import { getRequestListener } from '@hono/node-server';
import type { WxSessionCoreOptions } from 'wx-session';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { createApp as createExpressApp } from '../../examples/express/server.js';
import { createApp as createKoaApp } from '../../examples/koa/server.js';
import { createApp as createFastifyApp } from '../../examples/fastify/server.js';
import { createApp as createHonoApp } from '../../examples/hono/server.js';
import { createApp as createNestApp } from '../../examples/nestjs/server.js';
import { closeServer, listen } from '../../harness/apps.js';
import { startChild, type Child } from '../../harness/process.js';
import { call } from './http.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const SECRET = 'examples-test-signing-secret-0123456789';
export const STABLE_TOKEN = '/cgi-bin/stable_token';
/** An AppSecret the mock WeChat does not know. */
export const WRONG_APP_SECRET = 'examples-test-wrong-app-secret-000000';
export const PLAYER = 'oExamplePlayer000000000000001';
export const INVALID_TOKEN = 'Bearer realm="wx-session", error="invalid_token"';

export interface Example {
  name: string;
  /** How the example names itself in its start-up lines. */
  title: string;
  file: string;
  handler(options: WxSessionCoreOptions): RequestListener;
  loginPath: string;
  logoutPath: string;
  /** How the example mounts wx.errors, which answers the WxSessionErrors its routes throw. */
  errorsMounted: string;
  /**
   * The framework parses a body before it checks the session (NestJS: its body parser is
   * middleware, its guards run after): a malformed body without a session is its 400, not a 401.
   */
  parserFirst?: boolean;
}

/**
 * A Fastify app as a Node request listener, for a server of ours: Fastify's router
 * (`app.routing`) once the app and its plugins are ready.
 */
function fastifyListener(app: FastifyInstance): RequestListener {
  const ready = app.ready();
  return (req, res) => {
    ready.then(() => app.routing(req, res), (error: unknown) => res.destroy(error as Error));
  };
}

/**
 * A Nest app as a Node request listener, for a server of ours: its Express instance once
 * `app.init()` has run (the module's login routes and Nest's router are on it then).
 */
function nestListener(created: ReturnType<typeof createNestApp>): RequestListener {
  const ready = created.then(async (app) => {
    await app.init();
    return app.getHttpAdapter().getInstance() as RequestListener;
  });
  return (req, res) => {
    ready.then((listener) => listener(req, res), (error: unknown) => res.destroy(error as Error));
  };
}

export const examples: readonly Example[] = [
  { name: 'express', title: 'Express', file: 'examples/express/server.ts', handler: (options) => createExpressApp(options), loginPath: '/wx/login', logoutPath: '/wx/logout', errorsMounted: 'app.use(wx.errors)' },
  { name: 'koa', title: 'Koa', file: 'examples/koa/server.ts', handler: (options) => createKoaApp(options).callback(), loginPath: '/game/login', logoutPath: '/game/logout', errorsMounted: 'app.use(wx.errors)' },
  { name: 'fastify', title: 'Fastify', file: 'examples/fastify/server.ts', handler: (options) => fastifyListener(createFastifyApp(options)), loginPath: '/wx/login', logoutPath: '/wx/logout', errorsMounted: 'app.setErrorHandler(wx.errors)' },
  { name: 'hono', title: 'Hono', file: 'examples/hono/server.ts', handler: (options) => getRequestListener(createHonoApp(options).fetch), loginPath: '/wx/login', logoutPath: '/wx/logout', errorsMounted: 'app.use(wx.errors)' },
  // The module installs its filter itself; Nest's body parser runs before its guards (see `parserFirst`).
  { name: 'nestjs', title: 'NestJS', file: 'examples/nestjs/server.ts', handler: (options) => nestListener(createNestApp(options)), loginPath: '/wx/login', logoutPath: '/wx/logout', errorsMounted: 'WxSessionModule.forRoot', parserFirst: true },
];

export interface ExampleApp {
  readonly mock: MockWeChat;
  readonly url: string;
  /** Logs the player in through the example's login route; the token. */
  login(openid?: string): Promise<string>;
}

/** A fresh mock WeChat for each test of the calling suite. */
export function freshWeChat(): { readonly mock: MockWeChat } {
  let mock: MockWeChat;
  beforeEach(async () => {
    mock = await startMockWeChat();
  });
  afterEach(() => mock.close());
  return {
    get mock() {
      return mock;
    },
  };
}

/** For each test of the calling suite: the example's app on a real port, in front of a fresh mock WeChat. */
export function exampleApp(example: Example): ExampleApp {
  const wechat = freshWeChat();
  let server: Server;
  let url: string;
  beforeEach(async () => {
    const { mock } = wechat;
    ({ server, url } = await listen(example.handler({ appId: mock.appId, appSecret: mock.appSecret, secret: SECRET, apiBase: mock.url, timeout: 1000 })));
  });
  afterEach(() => closeServer(server));
  return {
    get mock() {
      return wechat.mock;
    },
    get url() {
      return url;
    },
    login: (openid = PLAYER) => login(url + example.loginPath, wechat.mock.issueCode(openid), openid),
  };
}

/** A login that must succeed, for `openid`, without the session_key in the answer; the token. */
export async function login(loginUrl: string, code: string, openid: string): Promise<string> {
  const answer = await call(loginUrl, { method: 'POST', json: { code } });
  expect(answer.status, answer.text).to.equal(200);
  expect(answer.body.openid).to.equal(openid);
  expect(answer.body).to.not.have.any.keys('session_key', 'sessionKey');
  return answer.body.token as string;
}

/** Runs an example as a user does, with these variables of ours set and no others. */
export function runExample(example: Example, vars: Record<string, string>): Child {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name === 'PORT' || /^(WX|TT|QQ)_/.test(name)) delete env[name];
  return startChild({ name: example.file, args: ['--import', 'tsx', example.file], env: { ...env, ...vars }, cwd: ROOT });
}

/** True when something accepts a TCP connection on the port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
