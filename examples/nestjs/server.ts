// The same game server on NestJS 11 with @nestjs/platform-express, through the wx-session/nestjs
// module: WeChat login on the default /wx/* routes, a session-protected profile, a score kept in
// the session, the player's WeChat user storage written with a signed call, and the shop and phone
// binding of ../shop.ts (the controllers are in ./game.ts). Run it directly with your app's
// credentials:
//
//   WX_APPID=wx... WX_APPSECRET=... WX_SESSION_SECRET=<32+ chars> node --import tsx examples/nestjs/server.ts
//
// (add WX_OFFER_ID and WX_PAY_APPKEY, and WX_PAY_SANDBOX_APPKEY with WX_PAY_ENV=1, for the shop)
//
// It checks the AppID and AppSecret with WeChat before it listens (core.verify()): when WeChat
// refuses them it exits 1 with one line saying which one and what to do, e.g.
//   wx-session NestJS example: AppSecret rejected (40125): check appSecret (WX_APPSECRET), ...
//
// `createApp` is exported so the tests can run the same app.
//
// Where Nest answers differently from the other examples: its body parser runs before any guard,
// so a malformed or oversized body is refused (400, 413) before the session is checked.
import 'reflect-metadata'; // Nest's decorators read and write metadata through it: first, before Nest
import type { Server } from 'node:http';
import { Module } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { isWxSessionCore, type WxSessionCore, type WxSessionCoreOptions } from 'wx-session';
import { WxSessionModule } from 'wx-session/nestjs';
import { announce, optionsFromEnv, runAsProgram, servesPayments, verifiedCore, type AppSettings } from '../setup.js';
import { BodyErrorFilter, GameController, HealthController, PAYMENTS, ShopController } from './game.js';

export { optionsFromEnv, verifiedCore, type AppSettings };

@Module({})
class GameModule {}

/**
 * The app, created but not listening, on a core (as main() makes it) or on the core's options (as
 * the tests give): `await app.listen(port)`, or `await app.init()` and serve its Express instance.
 */
export async function createApp(coreOrOptions: WxSessionCore | WxSessionCoreOptions, settings: AppSettings = {}): Promise<NestExpressApplication> {
  const module = {
    module: GameModule,
    imports: [
      // Serves POST /wx/login and POST /wx/logout, and installs app-wide: a guard refusing every
      // route without a session but those marked @WxSessionOptional() ('required'), the filter that
      // answers a WxSessionError with its table status and headers, and the saver of session.data.
      WxSessionModule.forRoot({ ...(isWxSessionCore(coreOrOptions) ? { core: coreOrOptions } : coreOrOptions), guard: 'required' }),
    ],
    controllers: [HealthController, GameController, ShopController],
    providers: [
      { provide: PAYMENTS, useValue: servesPayments(coreOrOptions, settings) },
      { provide: APP_FILTER, useClass: BodyErrorFilter },
    ],
  };
  // Only Nest's warnings and errors: its start-up lines would crowd the example's one line.
  // forceCloseConnections: app.close() ends idle keep-alive connections instead of waiting on them.
  const app = await NestFactory.create<NestExpressApplication>(module, { logger: ['error', 'warn'], bodyParser: false, forceCloseConnections: true });
  // JSON bodies only, 2 KiB at most: the largest is /me/storage's (a key and value of 1024 bytes,
  // WeChat's limit, plus the JSON). The login route reads its own body (8 KiB), ahead of this parser.
  app.useBodyParser('json', { limit: 2048 });
  return app;
}

/** Fails fast: a wrong credential stops the start with its reason, and the server never listens. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const options = optionsFromEnv(env);
  const app = await createApp(await verifiedCore(options), { payments: servesPayments(options) });
  // '::' is every address, IPv4 too.
  await app.listen(Number(env.PORT ?? 3000), '::');
  const server = app.getHttpServer() as Server;
  return announce('NestJS', server, () => app.close());
}

runAsProgram(import.meta.url, 'NestJS', main);
