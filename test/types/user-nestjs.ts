// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run): a NestJS
// app with the wx-session module as a user writes it (experimentalDecorators on, as Nest needs;
// no emitDecoratorMetadata: the core comes in through its token).
import { Controller, Get, Inject, Injectable, Module, Post, UseGuards } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ErrorCode, type WxSessionCore } from 'wx-session';
import {
  WX_SESSION_CORE, WxSession, WxSessionGuard, WxSessionModule, WxSessionOptional, WxSessionReason,
  type WxSessionModuleAsyncOptions, type WxSessionModuleOptions,
} from 'wx-session/nestjs';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_ok?: T): void {}

declare module 'wx-session' {
  interface WxSessionData {
    gems?: number;
  }
}

@Injectable()
export class Scores {
  constructor(@Inject(WX_SESSION_CORE) readonly core: WxSessionCore) {}
}

@Controller('me')
@UseGuards(WxSessionGuard)
export class MeController {
  @Get()
  me(@WxSession() session: WxSession) {
    const openid = session.openid;
    assertType<Equals<typeof openid, string>>();
    const gems = session.data.gems;
    assertType<Equals<typeof gems, number | undefined>>();
    session.data.gems = (gems ?? 0) + 1;
    return { openid, gems: session.data.gems };
  }

  @Post('leave')
  async leave(@WxSession() session: WxSession) {
    await session.destroy();
  }

  @Get('peek')
  @WxSessionOptional()
  peek(@WxSession() session: WxSession | undefined, @WxSessionReason() reason: ErrorCode | undefined) {
    if (reason === ErrorCode.WX_STORE_UNAVAILABLE) return { down: true };
    return { openid: session?.openid ?? null };
  }
}

const options: WxSessionModuleOptions = { appId: 'wxapp', appSecret: 'app-secret', secret: 'k'.repeat(32), loginPath: '/game/login', guard: 'required' };
const byCore = (core: WxSessionCore): WxSessionModuleOptions => ({ core, logoutPath: false, bodyTimeout: 5000, guard: false });
const later: WxSessionModuleAsyncOptions = {
  imports: [],
  useFactory: async (secret: string) => ({ appId: 'wxapp', appSecret: 'app-secret', secret }),
  inject: ['SECRET'],
};

@Module({
  imports: [WxSessionModule.forRoot(options)],
  controllers: [MeController],
  providers: [Scores, { provide: APP_GUARD, useClass: WxSessionGuard }],
})
export class AppModule {}

@Module({ imports: [WxSessionModule.forRootAsync(later)] })
export class LaterModule {}

export { byCore };
