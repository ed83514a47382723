// The test app of harness/apps.ts on NestJS, on the Express and the Fastify platform: the same
// routes the Express and Koa apps have, through the wx-session/nestjs module (its app-wide guard in
// 'optional' mode, as `app.use(wx)`, and WxSessionGuard on the routes that need a session), on a
// real server on loopback.
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire, register } from 'node:module';
import { Controller, Get, HttpCode, Inject, Module, Post, Req, Res, UseGuards, type DynamicModule, type Type } from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { WxSessionCore } from '../src/index.js';
import { WxSession, WxSessionGuard, WxSessionModule, WxSessionOptional, WxSessionReason, type WxSessionModuleOptions } from '../adapters/nestjs.js';

export { WxSessionModule };
import type { ErrorCode } from '../src/errors.js';
import { answerPlayerRoute, jsonBody, playerRoutes } from './player-routes.js';
import type { StartOptions } from './apps.js';

/** The routes of harness/apps.ts that read or change the session. */
@Controller()
class MeController {
  @Get('/me')
  @UseGuards(WxSessionGuard)
  me(@WxSession() s: WxSession) {
    return { openid: s.openid, unionid: s.unionid ?? null, data: s.data };
  }

  @Post('/me/coins')
  @HttpCode(200)
  @UseGuards(WxSessionGuard)
  coins(@WxSession() s: WxSession) {
    const data = s.data as { coins?: number };
    data.coins = (data.coins ?? 0) + 1;
    return { coins: data.coins };
  }

  /** Serialised as every platform serialises an object: JSON.stringify(session). */
  @Get('/me/json')
  @UseGuards(WxSessionGuard)
  json(@WxSession() s: WxSession) {
    return s;
  }

  @Post('/me/destroy')
  @HttpCode(204)
  @UseGuards(WxSessionGuard)
  async destroy(@WxSession() s: WxSession) {
    await s.destroy();
  }

  @Get('/whoami')
  whoami(@WxSession() s: WxSession | undefined, @WxSessionReason() error: ErrorCode | undefined) {
    return { session: !!s, openid: s?.openid ?? null, error: error ?? null };
  }
}

/** What a route reads of a request, on either platform. */
export interface PlatformRequest {
  /** Fastify's Node request; Express's request is one itself. */
  raw?: IncomingMessage;
  /** What Nest's body parser read, if anything. */
  body?: unknown;
  query: unknown;
  ip?: string;
  wxSession: WxSession;
}

export interface NestRoute {
  method: 'GET' | 'POST';
  path: string;
  /** Behind WxSessionGuard. */
  session: boolean;
  /** Marked @WxSessionOptional() (for the app-wide guard in 'required' mode). */
  optional?: boolean;
  run(req: PlatformRequest, raw: IncomingMessage): Promise<{ status: number; body?: unknown }>;
}

/**
 * A controller with one handler per route, decorated here rather than written out. Each answers its
 * own status through the platform's response; a WxSessionError it throws is answered by the
 * module's filter, as a game's route would be.
 */
export function routesController(routes: readonly NestRoute[]): Type {
  class RoutesController {
    constructor(@Inject(HttpAdapterHost) readonly host: HttpAdapterHost) {}
  }
  routes.forEach((route, index) => {
    const name = `route${index}`;
    const handler = async function (this: RoutesController, req: PlatformRequest, res: unknown) {
      const { status, body } = await route.run(req, req.raw ?? (req as unknown as IncomingMessage));
      this.host.httpAdapter.reply(res, body, status);
    };
    Object.defineProperty(RoutesController.prototype, name, { value: handler, writable: true, configurable: true });
    const descriptor = Object.getOwnPropertyDescriptor(RoutesController.prototype, name)!;
    (route.method === 'GET' ? Get : Post)(route.path)(RoutesController.prototype, name, descriptor);
    if (route.session) UseGuards(WxSessionGuard)(RoutesController.prototype, name, descriptor);
    if (route.optional) WxSessionOptional()(RoutesController.prototype, name, descriptor);
    Req()(RoutesController.prototype, name, 0);
    Res()(RoutesController.prototype, name, 1);
  });
  Controller()(RoutesController);
  return RoutesController;
}

/** The routes of harness/player-routes.ts. */
const playerController = (core: WxSessionCore) => routesController(playerRoutes.map((route) => ({
  ...route,
  run: (req: PlatformRequest, raw: IncomingMessage) => answerPlayerRoute(route, core, req.wxSession, req.query, req.ip ?? '', () => jsonBody(raw, req.body)),
})));

/** A Nest app of `controllers` with the wx-session module, on Express or Fastify, listening on loopback. */
export async function startNest(platform: 'express' | 'fastify', controllers: Type[], options: WxSessionModuleOptions | ((module: typeof WxSessionModule) => DynamicModule)) {
  @Module({})
  class AppModule {}
  const imports = [typeof options === 'function' ? options(WxSessionModule) : WxSessionModule.forRoot(options)];
  const module = { module: AppModule, imports, controllers };
  const settings = { logger: false as const, abortOnError: false, forceCloseConnections: true };
  const app = platform === 'fastify'
    ? await NestFactory.create(module, new FastifyAdapter(), settings)
    : await NestFactory.create(module, settings);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await app.close();
    },
  };
}

/**
 * The app on Nest's Express or Fastify platform, with Nest's own body parser on (its default). The
 * login answers ahead of that parser, so `bodyParser` changes nothing here. Nest 11 (Express 5,
 * Fastify 5) as this module is imported; Nest 10 (Express 4, Fastify 4) in the copy `nest10()` loads.
 */
export function nestApp(platform: 'express' | 'fastify', core: WxSessionCore, options: StartOptions) {
  return startNest(platform, [MeController, playerController(core)], { core, ...options.adapter });
}

/** The major of the @nestjs/core this copy runs on: 11, or 10 in the copy `nest10()` loads. */
export function nestMajor(): number {
  const require = createRequire(import.meta.resolve('@nestjs/core'));
  return Number((require('./package.json') as { version: string }).version.split('.')[0]);
}

let nest10Copy: Promise<typeof import('./apps-nestjs.js')> | undefined;

/** This module loaded again on NestJS 10 (harness/nest10/hooks.mjs), with its own Nest classes. */
export function nest10(): Promise<typeof import('./apps-nestjs.js')> {
  if (!nest10Copy) {
    register('./nest10/hooks.mjs', import.meta.url);
    const specifier: string = 'wx-session-nest10:app';
    nest10Copy = import(specifier) as Promise<typeof import('./apps-nestjs.js')>;
  }
  return nest10Copy;
}
