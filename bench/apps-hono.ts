// The Hono diagnostic of bench/server.ts (bench/README.md, "Variants"): bare-hono plus one
// pass-through app.use, what any middleware costs in Hono on Node. bare-hono, its floor and
// wx-session on Hono are bench/apps-frameworks.ts.
import { Hono } from 'hono';
import { honoNodeServer } from '../harness/hot-path-apps.js';
import { nothing, type BenchDeps, type Builders, type Built } from './apps-shared.js';

/** bare-hono with one pass-through app.use in front (diagnostic: what a middleware costs in Hono). */
function bareHono({ openid }: BenchDeps, noop: boolean): Built {
  const app = new Hono();
  if (noop) app.use((_c, next) => next());
  app.get('/me', (c) => c.json({ openid }));
  return { server: honoNodeServer(app.fetch), prepare: nothing };
}

export function honoBuilders(deps: BenchDeps): Builders {
  return {
    'bare-hono-mw': () => bareHono(deps, true),
  };
}
