// The package once installed from its tarball into a fresh project (test/support/packaging.ts):
// its dependencies and peers as declared, nothing optional pulled in, every subpath export
// loading with require() and import() from the right build with the same names, and a real
// login against the mock WeChat from the installed copy alone, CommonJS and ESM.
import { readdirSync } from 'node:fs';
import { join, sep } from 'node:path';
import { expect } from 'chai';
import { packed, rootPackage, runInConsumer, subpaths, type Packed } from './support/packaging.js';

/** What each subpath must export at runtime (docs/api.md). Subpaths not listed must still load. */
const EXPECTED_EXPORTS: Record<string, Record<string, 'function' | 'object'>> = {
  'wx-session': {
    createWxSession: 'function',
    MemoryStore: 'function',
    WxSessionError: 'function',
    ErrorCode: 'object',
    signPayload: 'function',
    signPayment: 'function',
    decryptData: 'function',
    verifyRawData: 'function',
  },
  'wx-session/express': { wxSession: 'function' },
  'wx-session/koa': { wxSession: 'function' },
  'wx-session/fastify': { wxSession: 'function' },
  'wx-session/hono': { wxSession: 'function' },
  'wx-session/testing': { startMockWeChat: 'function' },
  'wx-session/redis': { RedisStore: 'function' },
  'wx-session/client': { createSessionClient: 'function' },
};

/**
 * Subpaths that import their framework at load time, and the peer whose absence they name. NestJS
 * code imports @nestjs/common (its decorators run as the module loads): without Nest installed,
 * `wx-session/nestjs` fails to load with Node's own error naming the missing peer, and every other
 * subpath still loads.
 */
const NEEDS_PEER: Record<string, string> = { 'wx-session/nestjs': '@nestjs/common' };

/** Peers that must never be installed along with the package. */
const FORBIDDEN_INSTALLS = [
  'express', 'koa', '@koa/router', 'fastify', 'fastify-plugin', 'hono', '@hono/node-server', 'ioredis', 'redis', '@types/express', '@types/koa',
  '@nestjs/common', '@nestjs/core', 'rxjs', 'reflect-metadata',
];

interface Loaded {
  modules: Record<string, { types?: Record<string, string>; resolved?: string; error?: string }>;
  packageVersion: string;
  deepImport: string;
}

/** Loads every subpath and reports what each exports (name -> typeof), where it resolved, and whether a deep import gets through. */
const CHECK_SCRIPT = (kind: 'cjs' | 'esm') => `
${kind === 'cjs' ? '' : "import { createRequire } from 'node:module';"}
const specifiers = ${JSON.stringify(subpaths)};
const out = { modules: {}, packageVersion: null, deepImport: null };
${kind === 'cjs' ? 'const load = async (s) => require(s);' : 'const load = (s) => import(s);'}
${kind === 'cjs' ? '' : 'const require = createRequire(import.meta.url);'}
for (const s of specifiers) {
  try {
    const m = await load(s);
    const types = {};
    for (const key of Object.keys(m)) if (key !== 'default' && key !== '__esModule') types[key] = typeof m[key];
    out.modules[s] = { types, resolved: ${kind === 'cjs' ? 'require.resolve(s)' : 'import.meta.resolve(s)'} };
  } catch (error) {
    out.modules[s] = { error: String(error && error.stack || error) };
  }
}
out.packageVersion = require('wx-session/package.json').version;
try {
  ${kind === 'cjs' ? "require('wx-session/dist/cjs/src/core.js');" : "await import('wx-session/dist/esm/src/core.js');"}
  out.deepImport = 'allowed';
} catch (error) {
  out.deepImport = error.code;
}
process.stdout.write(JSON.stringify(out));
`;

/** A real login and authenticate against the mock WeChat, with the installed package only. */
const SMOKE_SCRIPT = (kind: 'cjs' | 'esm') => `
${kind === 'cjs'
    ? "const { createWxSession, ErrorCode, WxSessionError } = require('wx-session');\nconst { startMockWeChat } = require('wx-session/testing');"
    : "import { createWxSession, ErrorCode, WxSessionError } from 'wx-session';\nimport { startMockWeChat } from 'wx-session/testing';"}
const mock = await startMockWeChat();
try {
  const wx = createWxSession({ appId: mock.appId, appSecret: mock.appSecret, secret: 'packaging-test-secret-0123456789abcdef', apiBase: mock.url, timeout: 2000 });
  const openid = 'oPackagingTest0000000000000';
  const login = await wx.login(mock.issueCode(openid, { unionid: 'uPackaging' }));
  const auth = await wx.authenticate(login.token);
  const forged = await wx.authenticate(login.token.slice(0, -2) + (login.token.endsWith('AA') ? 'BB' : 'AA'));
  let refused = null;
  try { await wx.login('not-a-code-the-mock-issued'); } catch (error) { refused = error instanceof WxSessionError ? error.code : String(error); }
  await wx.logout(login.token);
  const after = await wx.authenticate(login.token);
  process.stdout.write(JSON.stringify({
    tokenType: typeof login.token,
    expiresIn: login.expiresIn,
    loginOpenid: login.session.openid,
    authOpenid: auth.session ? auth.session.openid : null,
    authUnionid: auth.session ? auth.session.unionid : null,
    keyReadable: auth.session ? auth.session.sessionKey === mock.sessionKeyOf(openid) : false,
    keyInJson: JSON.stringify(auth.session).includes(mock.sessionKeyOf(openid)),
    forgedCode: forged.code,
    refused,
    afterCode: after.code,
    expiredConstant: ErrorCode.WX_SESSION_EXPIRED,
  }));
} finally {
  await mock.close();
}
`;

/** The packages installed in node_modules, scoped ones as @scope/name. */
function installedPackages(consumer: string): string[] {
  const top = readdirSync(join(consumer, 'node_modules')).filter((n) => !n.startsWith('.'));
  const scoped = top.filter((n) => n.startsWith('@')).flatMap((s) => readdirSync(join(consumer, 'node_modules', s)).map((n) => `${s}/${n}`));
  return [...top.filter((n) => !n.startsWith('@')), ...scoped].sort();
}

describe('packaging: package.json dependencies', function () {
  this.timeout(120_000);
  this.slow(30_000);
  let pkg: Packed;
  before(async () => {
    pkg = await packed();
  });

  it('depends on exactly cookie-signature and lru-cache', () => {
    const { installed } = pkg;
    expect(Object.keys(installed.dependencies ?? {}).sort()).to.deep.equal(['cookie-signature', 'lru-cache']);
    expect(installed.optionalDependencies ?? {}, 'optionalDependencies').to.deep.equal({});
    expect(installed.bundleDependencies ?? installed.bundledDependencies, 'bundled dependencies').to.equal(undefined);
  });

  it('has express, koa, fastify, hono and nest as optional peerDependencies, never as dependencies', () => {
    const { installed } = pkg;
    for (const peer of ['express', 'koa', 'fastify', 'hono', '@nestjs/common', '@nestjs/core']) {
      expect(installed.peerDependencies, 'peerDependencies').to.have.property(peer);
      expect(installed.peerDependenciesMeta?.[peer]?.optional, `peerDependenciesMeta.${peer}.optional`).to.equal(true);
      expect(installed.dependencies ?? {}, 'dependencies').to.not.have.property(peer);
    }
    for (const peer of Object.keys(installed.peerDependencies ?? {})) {
      expect(installed.peerDependenciesMeta?.[peer]?.optional, `every peer is optional: ${peer}`).to.equal(true);
    }
  });

  it('declares the supported Node versions', () => {
    expect(pkg.installed.engines?.node).to.equal('>=20');
  });
});

describe('packaging: the installed package', function () {
  this.timeout(120_000);
  this.slow(30_000);
  let consumer: string;
  before(async () => {
    ({ consumer } = await packed());
  });

  it('did not pull express, koa, fastify, hono, nest or another optional peer into node_modules', () => {
    const all = installedPackages(consumer);
    expect(all.filter((n) => FORBIDDEN_INSTALLS.includes(n)), 'peers installed').to.deep.equal([]);
    expect(all, 'installed packages').to.deep.equal(['cookie-signature', 'lru-cache', 'wx-session']);
  });

  for (const kind of ['cjs', 'esm'] as const) {
    it(`${kind === 'cjs' ? 'require()s' : 'import()s'} every subpath export with the expected exports`, async () => {
      const result = (await runInConsumer(consumer, 'check', kind, CHECK_SCRIPT(kind))) as Loaded;
      expect(subpaths).to.include.members(['wx-session', 'wx-session/express', 'wx-session/koa', 'wx-session/fastify', 'wx-session/hono', 'wx-session/nestjs', 'wx-session/testing']);
      for (const specifier of subpaths) {
        const mod = result.modules[specifier]!;
        const peer = NEEDS_PEER[specifier];
        if (peer) {
          expect(mod.error, `${specifier} without ${peer} installed`).to.be.a('string').and.include(`'${peer}'`);
          expect(mod.error).to.match(/Cannot find (module|package)/);
          continue;
        }
        expect(mod.error, `${specifier} loads`).to.equal(undefined);
        const build = kind === 'cjs' ? `${sep}dist${sep}cjs${sep}` : '/dist/esm/';
        expect(mod.resolved, `${specifier} resolves into the ${kind} build`).to.include(build);
        const expected = EXPECTED_EXPORTS[specifier];
        if (expected) {
          for (const [name, type] of Object.entries(expected)) expect(mod.types, `${specifier} exports ${name}`).to.have.property(name, type);
        } else {
          expect(Object.keys(mod.types!), `${specifier} exports something`).to.not.be.empty;
        }
      }
      expect(result.packageVersion).to.equal(rootPackage.version);
      expect(result.deepImport, 'files outside "exports" are not importable').to.equal('ERR_PACKAGE_PATH_NOT_EXPORTED');
    });
  }

  it('exports the same names from the CommonJS and the ESM build', async () => {
    const names = async (kind: 'cjs' | 'esm') => {
      const result = (await runInConsumer(consumer, 'names', kind, CHECK_SCRIPT(kind))) as Loaded;
      return Object.fromEntries(subpaths.map((s) => [s, result.modules[s]!.types]));
    };
    expect(await names('cjs')).to.deep.equal(await names('esm'));
  });

  for (const kind of ['cjs', 'esm'] as const) {
    it(`logs in and authenticates against the mock WeChat (${kind === 'cjs' ? 'CommonJS' : 'ESM'})`, async () => {
      expect(await runInConsumer(consumer, 'smoke', kind, SMOKE_SCRIPT(kind))).to.deep.equal({
        tokenType: 'string',
        expiresIn: 7 * 24 * 3600,
        loginOpenid: 'oPackagingTest0000000000000',
        authOpenid: 'oPackagingTest0000000000000',
        authUnionid: 'uPackaging',
        keyReadable: true,
        keyInJson: false,
        forgedCode: 'WX_SESSION_INVALID',
        refused: 'WX_CODE_INVALID',
        afterCode: 'WX_SESSION_EXPIRED',
        expiredConstant: 'WX_SESSION_EXPIRED',
      });
    });
  }
});
