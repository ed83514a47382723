// Type fixture (compiled by test/types.test.ts against the BUILT declarations, never run):
// misuse the declarations must reject. Every `@ts-expect-error TSxxxx` names the error the
// following line must raise: the test compiles this file once as is (each directive used), and
// once with the directives stripped, checking each line raises exactly the named code.
import type { Request } from 'express';
import type { Context } from 'koa';
import { createWxSession, ErrorCode, WxSessionError, type WxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';
import { wxSession as koaSession } from 'wx-session/koa';
import type { FastifyRequest } from 'fastify';
import { Hono } from 'hono';
import type {} from 'wx-session/fastify';
import { wxSession as honoSession } from 'wx-session/hono';
import { startMockWeChat } from 'wx-session/testing';

declare const session: WxSession;
declare const req: Request;
declare const ctx: Context;
declare const request: FastifyRequest;
const secret = 'x'.repeat(32);

// @ts-expect-error TS2540 sessionKey is a getter only
session.sessionKey = 'x';
// @ts-expect-error TS2540 openid is a getter only
session.openid = 'o';
// @ts-expect-error TS18048 req.wxSession is optional
void req.wxSession.openid;
// @ts-expect-error TS2540 a session's openid is read-only (and a string)
req.wxSession!.openid = 1;
// @ts-expect-error TS2322 wxSessionError is an ErrorCode
req.wxSessionError = 'NOT_A_CODE';
// @ts-expect-error TS2740 ctx.state.wxSession is a WxSession
ctx.state.wxSession = { openid: 'o' };
// @ts-expect-error TS2353 unknown option (excess property)
createWxSession({ appId: 'a', appSecret: 'b', secret, bogus: 1 });
// @ts-expect-error TS2345 appSecret is required
createWxSession({ appId: 'a', secret });
// @ts-expect-error TS2322 keyExpired is 'refresh' | 'reject'
createWxSession({ appId: 'a', appSecret: 'b', secret, keyExpired: 'ignore' });
// @ts-expect-error TS2322 checkSessionKey is false or { interval }
createWxSession({ appId: 'a', appSecret: 'b', secret, checkSessionKey: true });
// @ts-expect-error TS2322 payment.env is 0 or 1
createWxSession({ appId: 'a', appSecret: 'b', secret, payment: { offerId: '1', appKey: 'k', env: 2 } });
// @ts-expect-error TS2322 a sandbox AppKey goes with the production one
createWxSession({ appId: 'a', appSecret: 'b', secret, payment: { offerId: '1', appKey: { production: 'k' } } });
// @ts-expect-error TS2345 pay needs a billNo
void session.payments.pay({ amount: 1, zoneId: '1', userIp: '1.2.3.4' });
// @ts-expect-error TS2540 session.payments is read-only
session.payments = session.payments;
// @ts-expect-error TS2339 no such error code
void ErrorCode.NOPE;
// @ts-expect-error TS2540 ErrorCode is read-only
ErrorCode.WX_SESSION_EXPIRED = 'WX_SESSION_INVALID';
// @ts-expect-error TS2345 not an ErrorCode
new WxSessionError('WX_NOPE');
// @ts-expect-error TS2322 session data fields are `unknown` until WxSessionData is augmented
const n: number = session.data.coins;
// @ts-expect-error TS2353 unknown adapter option
wxSession({ appId: 'a', appSecret: 'b', secret }, { bogusPath: '/x' });
// @ts-expect-error TS2345 the Koa adapter wants a core or options
koaSession('wxapp');
// @ts-expect-error TS2353 unknown mock option
void startMockWeChat({ bogus: 'wx' });
// @ts-expect-error TS18047 request.wxSession is null when the request has no session
void request.wxSession.openid;
// @ts-expect-error TS2322 request.wxSessionError is an ErrorCode
request.wxSessionError = 'NOT_A_CODE';
// @ts-expect-error TS2353 unknown Hono adapter option
honoSession({ appId: 'a', appSecret: 'b', secret }, { bogusPath: '/x' });
new Hono().get('/me', (c) => {
  // @ts-expect-error TS2532 c.get('wxSession') is undefined when the request has no session
  return c.text(c.get('wxSession').openid);
});

export async function narrowing(token: string) {
  const wx = createWxSession({ appId: 'a', appSecret: 'b', secret });
  const r = await wx.authenticate(token);
  // @ts-expect-error TS18047 the session may be null before narrowing
  void r.session.openid;
  if (r.session) {
    // @ts-expect-error TS2322 no error code on the success branch
    const code: ErrorCode = r.code;
    void code;
  } else {
    // @ts-expect-error TS2322 no session on the failure branch
    const s: WxSession = r.session;
    void s;
  }
  void n;
}
