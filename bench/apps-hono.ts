// The Hono diagnostic of bench/server.ts (bench/README.md, "Variants"): bare-hono plus one
// pass-through app.use, what any middleware costs in Hono on Node. bare-hono, its floor and
// wx-session on Hono are bench/apps-frameworks.ts.
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import { nothing, type BenchDeps, type Builders, type Built } from './apps-shared.js';

/** Hono on Node as @hono/node-server's serve() runs it, not yet listening (HTTP/1: its env is HttpBindings). */
function honoServer(app: { fetch: (request: Request, env: HttpBindings) => Response | Promise<Response> }): Server {
  return createAdaptorServer({ fetch: app.fetch as Parameters<typeof createAdaptorServer>[0]['fetch'] }) as Server;
}

/** bare-hono with one pass-through app.use in front (diagnostic: what a middleware costs in Hono). */
function bareHono({ openid }: BenchDeps, noop: boolean): Built {
  const app = new Hono();
  if (noop) app.use((_c, next) => next());
  app.get('/me', (c) => c.json({ openid }));
  return { server: honoServer(app), prepare: nothing };
}

export function honoBuilders(deps: BenchDeps): Builders {
  return {
    'bare-hono-mw': () => bareHono(deps, true),
  };
}
