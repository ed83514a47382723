import 'reflect-metadata'; // first: Nest's decorators need it
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, HttpCode, Module, Post, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WxSessionError, type ErrorCode } from 'wx-session';
import { WxSession, WxSessionGuard, WxSessionModule, WxSessionReason } from 'wx-session/nestjs';

@Controller()
class GameController {
  // An optional session: without a good token the route still runs, and says why there is none.
  @Get('/hello')
  hello(@WxSession() session: WxSession | undefined, @WxSessionReason() why: ErrorCode | undefined) {
    return session ? { hello: session.openid } : { hello: 'guest', why };
  }

  // A required session: 401 (or 503 when the store is down) from the guard.
  @Post('/me/score')
  @HttpCode(200)
  @UseGuards(WxSessionGuard)
  score(@WxSession() session: WxSession, @Body() body: { score?: unknown } | undefined) {
    const score = body?.score;
    if (typeof score !== 'number') throw new WxSessionError('WX_BAD_REQUEST', { message: 'score must be a number' });
    session.data.score = score; // saved before the answer goes out
    return { openid: session.openid, score };
  }
}

@Module({
  imports: [
    // POST /wx/login and /wx/logout; the session on every route when the token is good ('optional'
    // guard); a WxSessionError thrown anywhere answered as the error table says.
    WxSessionModule.forRoot({
      appId: process.env.WX_APPID!,
      appSecret: process.env.WX_APPSECRET!,
      secret: process.env.WX_SESSION_SECRET!,
      apiBase: process.env.WX_API_BASE,
    }),
  ],
  controllers: [GameController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
await app.listen(Number(process.env.PORT ?? 3000));
console.log(`listening on http://localhost:${(app.getHttpServer().address() as AddressInfo).port}`);
