// The bare, floor and wx-session variants of every framework (bench/README.md, "Variants"):
// bare-<f>, floor-<f>, wx-<f>-memory and wx-<f>-redis for Express 5, Koa 3 (no router), Fastify 5
// and Hono 4 on @hono/node-server. The apps themselves are harness/hot-path-apps.ts, the same ones
// test/hot-path.test.ts counts, here with wx-session as tsc compiled it.
import { FRAMEWORKS, hotPathServer, type Adapters, type Framework } from '../harness/hot-path-apps.js';
import { floorSessions, nothing, type BenchDeps, type Builders, type Built, type StoreKind } from './apps-shared.js';

async function compiledAdapters(deps: BenchDeps): Promise<Adapters> {
  const load = async <T>(name: string) => ((await import(deps.lib(`adapters/${name}.js`))) as { wxSession: T }).wxSession;
  return {
    express: await load<Adapters['express']>('express'),
    koa: await load<Adapters['koa']>('koa'),
    fastify: await load<Adapters['fastify']>('fastify'),
    hono: await load<Adapters['hono']>('hono'),
  };
}

async function bare(framework: Framework, { openid }: BenchDeps): Promise<Built> {
  return { server: await hotPathServer(framework, 'bare', { openid, floor: new Map() }), prepare: nothing };
}

/** The floor's Map gets its one token when the load asks for it (prepare). */
async function floor(framework: Framework, { openid }: BenchDeps): Promise<Built> {
  const { sessions, prepare } = floorSessions(openid);
  return { server: await hotPathServer(framework, 'floor', { openid, floor: sessions }), prepare };
}

async function wx(framework: Framework, deps: BenchDeps, kind: StoreKind): Promise<Built> {
  const { core, close } = await deps.core(kind);
  const server = await hotPathServer(framework, 'wx', { openid: deps.openid, floor: new Map(), core, adapters: await compiledAdapters(deps) });
  return { server, prepare: deps.wxLogin, close };
}

export function frameworkBuilders(deps: BenchDeps): Builders {
  const builders: Builders = {};
  for (const framework of FRAMEWORKS) {
    builders[`bare-${framework}`] = () => bare(framework, deps);
    builders[`floor-${framework}`] = () => floor(framework, deps);
    builders[`wx-${framework}-memory`] = () => wx(framework, deps, 'memory');
    builders[`wx-${framework}-redis`] = () => wx(framework, deps, 'redis');
  }
  return builders;
}
