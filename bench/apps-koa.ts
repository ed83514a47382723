// The Koa peer of bench/server.ts (bench/README.md, "Variants"): koa-session, routed by hand as
// every Koa variant is (no router: its cost would hide part of the middleware's). bare-koa, its
// floor and wx-session on Koa are bench/apps-frameworks.ts.
import { createServer } from 'node:http';
import Koa from 'koa';
import { createSession as koaSession } from 'koa-session';
import { type BenchDeps, type Builders, type Built } from './apps-shared.js';

const isMe = (ctx: Koa.Context) => ctx.method === 'GET' && ctx.path === '/me';

/** koa-session's defaults: the session held in a signed cookie, no external store. */
function koaSessionApp({ openid, secret, cookieLogin }: BenchDeps): Built {
  const app = new Koa();
  app.keys = [secret];
  app.use(koaSession({ signed: true }, app));
  app.use((ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/login') {
      ctx.session!.openid = openid;
      ctx.body = { ok: true };
      return;
    }
    if (!isMe(ctx)) return next();
    const mine = ctx.session?.openid as string | undefined;
    if (!mine) {
      ctx.status = 401;
      ctx.body = { code: 'NO_SESSION' };
      return;
    }
    ctx.body = { openid: mine };
  });
  return { server: createServer(app.callback()), prepare: cookieLogin };
}

export function koaBuilders(deps: BenchDeps): Builders {
  return {
    'koa-session': () => koaSessionApp(deps),
  };
}
