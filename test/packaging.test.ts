// The package as npm publishes it: `npm pack` (which runs the `prepack` build) from a clean copy
// of the working tree, then `npm install <tarball>` into a fresh project, then `require` and
// `import` of every subpath export and a real login against the mock WeChat from the installed
// copy. Catches what unit tests against src/ cannot: missing files, a broken `exports` map, a
// CommonJS build that is really ESM, a runtime import of an optional peer, stray files shipped.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

interface PackageJson {
  name: string;
  version: string;
  type?: string;
  main?: string;
  module?: string;
  types?: string;
  engines?: Record<string, string>;
  exports: Record<string, string | Record<string, Record<string, string>>>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bundleDependencies?: unknown;
  bundledDependencies?: unknown;
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** What each subpath must export at runtime (DESIGN.md §2). Subpaths not listed must still load. */
const EXPECTED_EXPORTS: Record<string, Record<string, 'function' | 'object'>> = {
  'wx-session': {
    createWxSession: 'function',
    MemoryStore: 'function',
    WxSessionError: 'function',
    ErrorCode: 'object',
    signPayload: 'function',
    decryptData: 'function',
    verifyRawData: 'function',
  },
  'wx-session/express': { wxSession: 'function' },
  'wx-session/koa': { wxSession: 'function' },
  'wx-session/testing': { startMockWeChat: 'function' },
  'wx-session/redis': { RedisStore: 'function' },
  'wx-session/client': { createSessionClient: 'function' },
};

/** Peers that must never be installed along with the package. */
const FORBIDDEN_INSTALLS = ['express', 'koa', '@koa/router', 'ioredis', 'redis', '@types/express', '@types/koa'];

/** Size limits: generous, to catch a shipped node_modules/, coverage/ or test fixture, not to nag. */
const MAX_PACKED_BYTES = 600 * 1024;
const MAX_UNPACKED_BYTES = 3 * 1024 * 1024;
const MAX_FILES = 600;

/** The subpaths of `exports` that are modules (not `./package.json`), as import specifiers. */
const subpaths = Object.keys(rootPackage.exports)
  .filter((key) => !key.endsWith('.json'))
  .map((key) => (key === '.' ? rootPackage.name : `${rootPackage.name}/${key.slice(2)}`));

/** Child env without npm's lifecycle variables, so nested npm commands use their own cwd and config. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD') env[key] = value;
  }
  return env;
}

async function sh(file: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    // npm warns about the "nodedir" user config on some machines: only shown when a command fails.
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

async function node(script: string, cwd: string): Promise<unknown> {
  return JSON.parse(await sh(process.execPath, [script], cwd));
}

/** The JSON array `npm pack --json` prints, even if a build step printed something before it. */
function parsePackJson(stdout: string): PackResult {
  const start = stdout.search(/^\[/m);
  if (start < 0) throw new Error(`npm pack printed no JSON:\n${stdout}`);
  const parsed = JSON.parse(stdout.slice(start)) as PackResult[];
  expect(parsed).to.have.length(1);
  return parsed[0]!;
}

/** Copies the working tree without node_modules, dist or VCS data, and links the dev dependencies. */
function cleanCopy(into: string): void {
  const skipTop = new Set(['.git', 'dist', 'coverage', '.nyc_output', 'node_modules']);
  cpSync(ROOT, into, {
    recursive: true,
    filter: (source) => {
      const rel = relative(ROOT, source);
      if (rel === '') return true;
      const parts = rel.split(sep);
      if (skipTop.has(parts[0]!) || parts.includes('node_modules')) return false;
      if (source.endsWith('.tgz') || source.endsWith('.tsbuildinfo') || rel.startsWith(join('bench', '.tmp'))) return false;
      return true;
    },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir');
}

const CHECK_SCRIPT = (kind: 'cjs' | 'esm', specifiers: string[]) => `
${kind === 'cjs' ? '' : "import { createRequire } from 'node:module';"}
const specifiers = ${JSON.stringify(specifiers)};
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

describe('packaging: npm pack + install', function () {
  this.timeout(120_000);
  this.slow(30_000);

  let work: string;
  let pack: PackResult;
  let paths: string[];
  let consumer: string;
  let installed: PackageJson;

  before(async function () {
    work = mkdtempSync(join(tmpdir(), 'wx-session-packaging-'));
    const tree = join(work, 'tree');
    const out = join(work, 'out');
    consumer = join(work, 'consumer');
    mkdirSync(out);
    mkdirSync(consumer);

    // 1. Pack a clean copy: no dist/, so the tarball's dist/ can only come from `prepack`, and the
    //    shared dist/ of the working tree is left alone.
    cleanCopy(tree);
    pack = parsePackJson(await sh('npm', ['pack', '--json', '--pack-destination', out], tree));
    paths = pack.files.map((f) => f.path).sort();

    // 2. Install the tarball into a fresh project.
    await sh('npm', ['init', '-y'], consumer);
    await sh('npm', ['install', join(out, pack.filename), '--prefer-offline', '--no-audit', '--no-fund'], consumer);
    installed = JSON.parse(readFileSync(join(consumer, 'node_modules', 'wx-session', 'package.json'), 'utf8')) as PackageJson;
  });

  after(() => {
    if (work && !process.env.KEEP_PACKAGING_TMP) rmSync(work, { recursive: true, force: true });
  });

  describe('the tarball', () => {
    it('has a JavaScript file and a declaration for every condition of every subpath export', () => {
      const missing: string[] = [];
      for (const [subpath, target] of Object.entries(installed.exports)) {
        const files = typeof target === 'string' ? [target] : Object.values(target).flatMap((c) => Object.values(c));
        for (const file of files) if (!paths.includes(file.replace(/^\.\//, ''))) missing.push(`${subpath}: ${file}`);
        if (typeof target !== 'string') {
          for (const condition of ['import', 'require']) {
            const c = target[condition];
            expect(c, `${subpath} has a "${condition}" condition`).to.be.an('object');
            expect(Object.keys(c!)[0], `${subpath} "${condition}": "types" must come first`).to.equal('types');
            expect(c!.types, `${subpath} "${condition}".types`).to.match(/\.d\.ts$/);
            expect(c!.default, `${subpath} "${condition}".default`).to.match(/\.js$/);
            expect(c!.types!.replace(/\.d\.ts$/, ''), `${subpath} "${condition}": types next to the code`).to.equal(c!.default!.replace(/\.js$/, ''));
          }
          expect(target.import!.default, `${subpath}: ESM from dist/esm`).to.match(/^\.\/dist\/esm\//);
          expect(target.require!.default, `${subpath}: CommonJS from dist/cjs`).to.match(/^\.\/dist\/cjs\//);
        }
      }
      expect(missing, 'files named in "exports" but not in the tarball').to.deep.equal([]);
    });

    it('has the files named by main, module and types, and marks dist/cjs as CommonJS', () => {
      for (const field of ['main', 'module', 'types'] as const) {
        const file = installed[field];
        if (file !== undefined) expect(paths, `"${field}": ${file}`).to.include(file.replace(/^\.\//, ''));
      }
      expect(paths).to.include('dist/cjs/package.json');
      const marker = JSON.parse(readFileSync(join(consumer, 'node_modules', 'wx-session', 'dist', 'cjs', 'package.json'), 'utf8'));
      expect(marker.type).to.equal('commonjs');
      expect(installed.type).to.equal('module');
    });

    it('has both builds of every module: each dist/esm file has its dist/cjs twin and vice versa', () => {
      const tree = (dir: string) =>
        paths.filter((p) => p.startsWith(`dist/${dir}/`) && /\.(js|d\.ts)$/.test(p)).map((p) => p.slice(`dist/${dir}/`.length)).sort();
      expect(tree('esm')).to.not.be.empty;
      expect(tree('cjs')).to.deep.equal(tree('esm'));
      for (const p of tree('esm').filter((f) => f.endsWith('.js'))) {
        expect(tree('esm'), `declaration for ${p}`).to.include(p.replace(/\.js$/, '.d.ts'));
      }
    });

    it('was built by prepack (the packed copy of the tree had no dist/)', () => {
      expect(paths.some((p) => p.startsWith('dist/esm/'))).to.equal(true);
      expect(paths.some((p) => p.startsWith('dist/cjs/'))).to.equal(true);
    });

    it('has README.md and package.json', () => {
      expect(paths).to.include('package.json');
      expect(paths, 'README.md is missing from the package (does the repository have one?)').to.include('README.md');
    });

    it('has README.md, SECURITY.md and LICENSE', () => {
      expect(paths).to.include.members(['README.md', 'SECURITY.md', 'LICENSE']);
    });

    it('has the sources, docs and examples, and no tests, fixtures, build info or tooling', () => {
      const allowed = /^(dist\/.+|package\.json|README\.md|SECURITY\.md|LICENSE|(src|adapters)\/.+\.ts|docs\/.+|examples\/.+)$/;
      const forbidden = /(^|\/)(test|tests|__tests__|bench|soak|scripts|coverage|node_modules|\.ci|\.github)\/|\.tsbuildinfo$|\.tgz$|(^|\/)tsconfig[^/]*\.json$|(^|\/)\.mocharc/;
      expect(paths.filter((p) => !allowed.test(p)), 'files outside the allowed set').to.deep.equal([]);
      expect(paths.filter((p) => forbidden.test(p)), 'test, tooling or build-info files').to.deep.equal([]);
      expect(paths.filter((p) => /\.test\.ts$/.test(p) && !p.startsWith('examples/')), 'tests other than the example of testing with the mock').to.deep.equal([]);
    });

    it('has the source every source map names (the maps resolve inside the package)', () => {
      const maps = paths.filter((p) => p.endsWith('.js.map'));
      expect(maps.length, 'source maps').to.be.greaterThan(10);
      const unresolved: string[] = [];
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(join(consumer, 'node_modules', 'wx-session', map), 'utf8')) as { sources: string[] };
        for (const source of sources) {
          const target = posix.normalize(posix.join(posix.dirname(map), source));
          if (!paths.includes(target)) unresolved.push(`${map} -> ${source}`);
        }
      }
      expect(unresolved).to.deep.equal([]);
    });

    it('has a reasonable size', () => {
      expect(pack.size, 'packed bytes').to.be.below(MAX_PACKED_BYTES);
      expect(pack.unpackedSize, 'unpacked bytes').to.be.below(MAX_UNPACKED_BYTES);
      expect(pack.files.length, 'file count').to.be.below(MAX_FILES);
      expect(basename(pack.filename)).to.equal(`wx-session-${rootPackage.version}.tgz`);
    });
  });

  describe('package.json dependencies', () => {
    it('depends on exactly cookie-signature and lru-cache', () => {
      expect(Object.keys(installed.dependencies ?? {}).sort()).to.deep.equal(['cookie-signature', 'lru-cache']);
      expect(installed.optionalDependencies ?? {}, 'optionalDependencies').to.deep.equal({});
      expect(installed.bundleDependencies ?? installed.bundledDependencies, 'bundled dependencies').to.equal(undefined);
    });

    it('has express and koa as optional peerDependencies, never as dependencies', () => {
      for (const peer of ['express', 'koa']) {
        expect(installed.peerDependencies, 'peerDependencies').to.have.property(peer);
        expect(installed.peerDependenciesMeta?.[peer]?.optional, `peerDependenciesMeta.${peer}.optional`).to.equal(true);
        expect(installed.dependencies ?? {}, 'dependencies').to.not.have.property(peer);
      }
      for (const peer of Object.keys(installed.peerDependencies ?? {})) {
        expect(installed.peerDependenciesMeta?.[peer]?.optional, `every peer is optional: ${peer}`).to.equal(true);
      }
    });

    it('declares the supported Node versions', () => {
      expect(installed.engines?.node).to.equal('>=20');
    });
  });

  describe('the installed package', () => {
    it('did not pull express, koa or another optional peer into node_modules', () => {
      const top = readdirSync(join(consumer, 'node_modules')).filter((n) => !n.startsWith('.'));
      const scoped = top.filter((n) => n.startsWith('@')).flatMap((s) => readdirSync(join(consumer, 'node_modules', s)).map((n) => `${s}/${n}`));
      const all = [...top.filter((n) => !n.startsWith('@')), ...scoped].sort();
      expect(all.filter((n) => FORBIDDEN_INSTALLS.includes(n)), 'peers installed').to.deep.equal([]);
      expect(all, 'installed packages').to.deep.equal(['cookie-signature', 'lru-cache', 'wx-session']);
    });

    for (const kind of ['cjs', 'esm'] as const) {
      it(`${kind === 'cjs' ? 'require()s' : 'import()s'} every subpath export with the expected exports`, async () => {
        const script = join(consumer, kind === 'cjs' ? 'check.cjs' : 'check.mjs');
        const source = CHECK_SCRIPT(kind, subpaths);
        writeFileSync(script, kind === 'cjs' ? `(async () => {${source}})().catch((e) => { console.error(e); process.exit(1); });` : source);
        const result = (await node(script, consumer)) as {
          modules: Record<string, { types?: Record<string, string>; resolved?: string; error?: string }>;
          packageVersion: string;
          deepImport: string;
        };
        expect(subpaths).to.include.members(['wx-session', 'wx-session/express', 'wx-session/koa', 'wx-session/testing']);
        for (const specifier of subpaths) {
          const mod = result.modules[specifier]!;
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
        const script = join(consumer, `names.${kind === 'cjs' ? 'cjs' : 'mjs'}`);
        const source = CHECK_SCRIPT(kind, subpaths);
        writeFileSync(script, kind === 'cjs' ? `(async () => {${source}})().catch((e) => { console.error(e); process.exit(1); });` : source);
        const result = (await node(script, consumer)) as { modules: Record<string, { types?: Record<string, string> }> };
        return Object.fromEntries(subpaths.map((s) => [s, result.modules[s]!.types]));
      };
      expect(await names('cjs')).to.deep.equal(await names('esm'));
    });

    for (const kind of ['cjs', 'esm'] as const) {
      it(`logs in and authenticates against the mock WeChat (${kind === 'cjs' ? 'CommonJS' : 'ESM'})`, async () => {
        const script = join(consumer, kind === 'cjs' ? 'smoke.cjs' : 'smoke.mjs');
        const source = SMOKE_SCRIPT(kind);
        writeFileSync(script, kind === 'cjs' ? `(async () => {${source}})().catch((e) => { console.error(e); process.exit(1); });` : source);
        const r = (await node(script, consumer)) as Record<string, unknown>;
        expect(r).to.deep.equal({
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
});
