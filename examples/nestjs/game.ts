// The NestJS example's controllers (./server.ts builds the app): the game's routes behind the
// app-wide guard of WxSessionModule, and the filter giving a refused body the JSON shape the other
// examples answer. Written with explicit @Inject tokens and no reliance on parameter types, so the
// example compiles with `experimentalDecorators` alone (no `emitDecoratorMetadata`).
import {
  BadRequestException, Body, Catch, Controller, Get, HttpCode, HttpException, Inject, Ip, Post, Query,
  type ArgumentsHost, type ExceptionFilter,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WxSession, WxSessionOptional } from 'wx-session/nestjs';
import { storageInput } from '../setup.js';
import { bindPhone, buy, NOT_CONFIGURED, readBalance, zoneOf, type ShopAnswer } from '../shop.js';

/** The injection token of whether the app serves the payment routes (AppSettings.payments). */
export const PAYMENTS = Symbol('payments');

/** Answers with the body a route returns; any other status is thrown, as Nest answers exceptions. */
function answered(answer: ShopAnswer): Record<string, unknown> {
  if (answer.status >= 300) throw new HttpException(answer.body, answer.status);
  return answer.body;
}

@Controller()
@WxSessionOptional() // the module's guard is 'required': this one route needs no session
export class HealthController {
  @Get('/health')
  health() {
    return { ok: true };
  }
}

@Controller('/me')
export class GameController {
  @Get()
  me(@WxSession() session: WxSession) {
    return { openid: session.openid, data: session.data };
  }

  @Post('/score')
  @HttpCode(200)
  score(@WxSession() session: WxSession, @Body() body: unknown) {
    const score = (body as { score?: unknown } | undefined)?.score;
    if (typeof score !== 'number' || !Number.isSafeInteger(score) || score < 0) {
      throw new BadRequestException({ code: 'BAD_SCORE', message: 'score must be a whole number >= 0' });
    }
    // Saved to the session store by the module's WxSessionSaver before the answer goes out.
    session.data.score = score;
    return { score };
  }

  // Writes the player's WeChat user storage (mini-game set_user_storage): a call to WeChat signed
  // with the session's session_key, which never leaves the server. Answers 204; a WxSessionError
  // thrown here is answered by the module's WxSessionFilter: 400 WX_BAD_REQUEST for a bad key or
  // value (before any call to WeChat), 401 WX_SESSION_KEY_EXPIRED when WeChat refused the key
  // (87009), 502/504 when WeChat failed.
  @Post('/storage')
  @HttpCode(204)
  async storage(@WxSession() session: WxSession, @Body() body: unknown) {
    const { key, value } = storageInput(body);
    await session.setUserStorage([{ key, value: String(value) }]);
  }
}

/**
 * The shop and the phone binding (../shop.ts): mini-game virtual payment and getuserphonenumber,
 * calls to WeChat made with the session's session_key. Without the payment option the payment
 * routes answer 501 PAYMENT_NOT_CONFIGURED (after the guard: 401 first).
 */
@Controller('/me')
export class ShopController {
  constructor(@Inject(PAYMENTS) private readonly payments: boolean) {}

  @Get('/balance')
  async balance(@WxSession() session: WxSession, @Query() query: Record<string, unknown>, @Ip() ip: string) {
    if (!this.payments) return answered(NOT_CONFIGURED);
    return answered(await readBalance(session, zoneOf(query), ip));
  }

  @Post('/buy')
  @HttpCode(200)
  async buy(@WxSession() session: WxSession, @Body() body: unknown, @Query() query: Record<string, unknown>, @Ip() ip: string) {
    if (!this.payments) return answered(NOT_CONFIGURED);
    return answered(await buy(session, body, zoneOf(query), ip));
  }

  @Post('/phone')
  @HttpCode(200)
  async phone(@WxSession() session: WxSession, @Body() body: unknown) {
    return answered(await bindPhone(session, body));
  }
}

/**
 * A 400 without a `code` of ours (Nest's answer to malformed JSON, or to a JSON body that is not an
 * object or array) is answered as wx-session words a bad request, 400 WX_BAD_REQUEST, as the other
 * examples answer their body parser's refusals. The routes' own 400s (BAD_SCORE) keep their body.
 */
@Catch(BadRequestException)
export class BodyErrorFilter implements ExceptionFilter<BadRequestException> {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  catch(error: BadRequestException, context: ArgumentsHost): void {
    const given = error.getResponse();
    const body = typeof given === 'object' && 'code' in given ? given : { code: 'WX_BAD_REQUEST', message: error.message };
    this.host.httpAdapter.reply(context.switchToHttp().getResponse(), body, 400);
  }
}
