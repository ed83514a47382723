// Type tests: user-shaped files (test/types/*.ts) compiled with the real tsc against the BUILT
// declarations in dist/, reached through the package name and package.json "exports" exactly as
// an installed package is: ESM consumers by self-reference from inside the repository, CommonJS
// consumers from a scratch project whose node_modules/wx-session links to the repository.
//
//   user-core.ts             the core API, result narrowing, ErrorCode literals, WxSessionError
//   user-express.ts          Express: app.use(wx), wx.required, req.wxSession, WxSessionData augmentation
//   user-koa.ts              Koa + @koa/router: ctx.state.wxSession, router.post('/game/login', wx.login)
//   user-fastify.ts          Fastify 5: app.register(wxSession, ...), request.wxSession, app.wxSession.required
//   user-hono.ts             Hono 4: app.use(wx), c.get('wxSession'), wx.required
//   user-nestjs.ts           NestJS 11: WxSessionModule.forRoot/forRootAsync, WxSessionGuard, @WxSession()
//   user-session-helpers.ts  the session_key helpers on the session object (docs/api.md)
//   user-player-apis.ts      the key reset, phone number, risk rank, payments and signPayment
//   errors-expected.ts       misuse that must not compile, each line marked `@ts-expect-error TSxxxx`
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { requireBuilt } from './support/built.js';

const run = promisify(execFile);
const ROOT = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
const FIXTURES = join(ROOT, 'test', 'types');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports?: Record<string, unknown>; typesVersions?: unknown };

/** The files that must compile cleanly (all but errors-expected.ts). */
const POSITIVE = ['user-core.ts', 'user-express.ts', 'user-koa.ts', 'user-fastify.ts', 'user-hono.ts', 'user-nestjs.ts', 'user-session-helpers.ts', 'user-player-apis.ts'];
const NEGATIVE = 'errors-expected.ts';

/**
 * What a strict user project turns on. `--types node` keeps unrelated @types (mocha, chai) out.
 * `--experimentalDecorators`, as every NestJS project has it, for user-nestjs.ts.
 */
const STRICT = [
  '--strict', '--experimentalDecorators', '--noEmit', '--pretty', 'false', '--target', 'es2022', '--types', 'node',
  '--exactOptionalPropertyTypes', '--noUncheckedIndexedAccess', '--forceConsistentCasingInFileNames',
];

interface Diagnostic {
  /** Absolute, symlinks resolved; '' for a diagnostic without a file. */
  file: string;
  line: number;
  code: string;
  text: string;
}

interface Compilation {
  status: number;
  output: string;
  diagnostics: Diagnostic[];
  /** Absolute paths of every file in the program (`--listFiles`), symlinks resolved. */
  files: string[];
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

async function tsc(cwd: string, args: string[]): Promise<Compilation> {
  let stdout = '';
  let status = 0;
  try {
    ({ stdout } = await run(process.execPath, [TSC, ...args, '--listFiles'], { cwd, maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string; code?: number };
    if (typeof e.code !== 'number') throw error;
    stdout = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    status = e.code;
  }
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  for (const line of stdout.split('\n')) {
    const located = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    const global = /^error (TS\d+): (.*)$/.exec(line);
    if (located) {
      diagnostics.push({ file: real(resolve(cwd, located[1]!)), line: Number(located[2]), code: located[4]!, text: located[5]! });
    } else if (global) {
      diagnostics.push({ file: '', line: 0, code: global[1]!, text: global[2]! });
    } else if (/^\s+\S/.test(line) && diagnostics.length > 0) {
      diagnostics[diagnostics.length - 1]!.text += `\n${line}`;
    } else if (isAbsolute(line.trim()) && /\.[cm]?tsx?$/.test(line.trim())) {
      files.push(real(line.trim()));
    }
  }
  if (status !== 0 && diagnostics.length === 0) throw new Error(`tsc exited with ${status} without a diagnostic:\n${stdout}`);
  return { status, output: stdout, diagnostics, files };
}

function show(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => `${d.file ? relative(ROOT, d.file) : '<global>'}:${d.line} ${d.code} ${d.text}`);
}

/** Lines (1-based, the line after each directive) and codes named by `// @ts-expect-error TSxxxx`. */
function expectedErrors(source: string): Map<number, string> {
  const expected = new Map<number, string>();
  source.split('\n').forEach((text, index) => {
    const m = /^\s*\/\/ @ts-expect-error (TS\d+)\b/.exec(text);
    if (m) expected.set(index + 2, m[1]!);
  });
  return expected;
}

const DIST = join(ROOT, 'dist');
const inDist = (build: 'esm' | 'cjs') => (file: string) => file.startsWith(join(DIST, build) + sep);

/** A scratch CommonJS project: package.json "type": "commonjs", node_modules linked to the repo's. */
let scratch: string;

/** Makes the scratch project: the fixtures copied into cjs/, the negative one disarmed into stripped/. */
function makeScratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wx-session-types-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'types-consumer', private: true, type: 'commonjs' }));
  mkdirSync(join(dir, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry !== rootPackage.name && !entry.startsWith('.')) symlinkSync(join(ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  symlinkSync(ROOT, join(dir, 'node_modules', rootPackage.name), 'dir');
  mkdirSync(join(dir, 'cjs'));
  mkdirSync(join(dir, 'stripped'));
  for (const file of [...POSITIVE, NEGATIVE]) copyFileSync(join(FIXTURES, file), join(dir, 'cjs', file));
  // The negative fixture with its directives disarmed, once as ESM (.mts) and once as CommonJS (.cts).
  const disarmed = readFileSync(join(FIXTURES, NEGATIVE), 'utf8').replaceAll('// @ts-expect-error', '// (expect-error)');
  writeFileSync(join(dir, 'stripped', 'errors.mts'), disarmed);
  writeFileSync(join(dir, 'stripped', 'errors.cts'), disarmed);
  return dir;
}

interface Mode {
  title: string;
  build: 'esm' | 'cjs';
  /** Directory the fixtures are compiled from. */
  dir: () => string;
  cwd: () => string;
  args: string[];
  /** Why the mode is skipped, if it is. */
  skip?: string | undefined;
}

/** An ESM consumer: the fixtures in place, the package reached by self-reference through "exports". */
const esmMode = (title: string, args: string[]): Mode => ({ title, build: 'esm', dir: () => FIXTURES, cwd: () => ROOT, args });
/** A CommonJS consumer: the fixtures in the scratch project, the package in its node_modules. */
const cjsMode = (title: string, args: string[], skip?: string): Mode => ({ title, build: 'cjs', dir: () => join(scratch, 'cjs'), cwd: () => scratch, args, skip });

const modes: Mode[] = [
  esmMode('ESM consumer (module/moduleResolution nodenext, self-reference through "exports")', ['--module', 'nodenext', '--moduleResolution', 'nodenext']),
  cjsMode('CommonJS consumer (nodenext in a "type": "commonjs" project)', ['--module', 'nodenext', '--moduleResolution', 'nodenext', '--esModuleInterop']),
  esmMode('bundler consumer (module esnext, moduleResolution bundler)', ['--module', 'esnext', '--moduleResolution', 'bundler']),
  cjsMode(
    'classic CommonJS consumer (module commonjs, moduleResolution node10)',
    ['--module', 'commonjs', '--moduleResolution', 'node10', '--esModuleInterop'],
    // node10 ignores "exports": its subpaths need "typesVersions" in package.json.
    rootPackage.typesVersions === undefined ? 'package.json has no "typesVersions", so node10 cannot see the subpath types' : undefined,
  ),
];

/** The fixtures compiled in one mode: each resolves to that build's declarations only, and compiles cleanly. */
function compilesIn(mode: Mode): void {
  let result: Compilation;

  before(async () => {
    result = await tsc(mode.cwd(), [...STRICT, '--skipLibCheck', ...mode.args, ...POSITIVE.map((f) => join(mode.dir(), f))]);
  });

  it(`resolves every subpath to dist/${mode.build} declarations only`, () => {
    const other = mode.build === 'esm' ? 'cjs' : 'esm';
    const ours = result.files.filter((f) => f.startsWith(DIST + sep)).map((f) => relative(DIST, f));
    for (const expected of ['src/index.d.ts', 'adapters/express.d.ts', 'adapters/koa.d.ts', 'adapters/fastify.d.ts', 'adapters/hono.d.ts', 'adapters/nestjs.d.ts', 'src/testing/index.d.ts']) {
      expect(ours, `program includes dist/${mode.build}/${expected}`).to.include(join(mode.build, expected));
    }
    expect(ours.filter((f) => f.startsWith(other + sep)), `no dist/${other} declarations in a ${mode.build} program`).to.deep.equal([]);
    const sources = [join(ROOT, 'src') + sep, join(ROOT, 'adapters') + sep];
    expect(result.files.filter((f) => sources.some((dir) => f.startsWith(dir))), 'no TypeScript sources of the package in the program').to.deep.equal([]);
  });

  for (const fixture of POSITIVE) {
    it(`${fixture} compiles without errors`, () => {
      const file = real(join(mode.dir(), fixture));
      expect(show(result.diagnostics.filter((d) => d.file === file))).to.deep.equal([]);
    });
  }

  it('tsc exits 0 with no other error', () => {
    const fixtures = new Set(POSITIVE.map((f) => real(join(mode.dir(), f))));
    expect(show(result.diagnostics.filter((d) => !fixtures.has(d.file)))).to.deep.equal([]);
    expect(result.status, 'tsc exit code').to.equal(0);
  });
}

/** One program per build importing every subpath, with skipLibCheck off. */
function declarationsTypeCheck(): void {
  // One program per build: a program holding both would merge two different WxSession classes
  // into Express.Request / koa's DefaultState (TS2717), the dual-package hazard of mixed projects.
  for (const build of ['esm', 'cjs'] as const) {
    it(`has no error in dist/${build}/**/*.d.ts`, async () => {
      const entry = build === 'esm' ? 'all.mts' : 'all.cts';
      const subpaths = Object.keys(rootPackage.exports ?? {}).filter((k) => !k.endsWith('.json'));
      const imports = subpaths.map((k) => `import '${k === '.' ? rootPackage.name : `${rootPackage.name}/${k.slice(2)}`}';`);
      writeFileSync(join(scratch, entry), `${imports.join('\n')}\n`);
      const result = await tsc(scratch, [...STRICT, '--module', 'nodenext', '--moduleResolution', 'nodenext', entry]);
      expect(result.files.some(inDist(build)), `dist/${build} compiled`).to.equal(true);
      // Errors inside third-party typings (e.g. @types/koa against a newer content-disposition)
      // are theirs; every other error, ours included, fails the test.
      const thirdParty = (d: Diagnostic) => d.file.includes(`${sep}node_modules${sep}`) && !d.file.startsWith(DIST + sep);
      expect(show(result.diagnostics.filter((d) => !thirdParty(d)))).to.deep.equal([]);
    });
  }
}

/** errors-expected.ts compiles as it is, and once disarmed raises exactly the errors its directives name. */
function misuseRejected(): void {
  let asIs: Compilation;
  let disarmed: Compilation;
  const nodenext = [...STRICT, '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--esModuleInterop'];

  before(async () => {
    [asIs, disarmed] = await Promise.all([
      tsc(scratch, [...nodenext, join(FIXTURES, NEGATIVE), join(scratch, 'cjs', NEGATIVE)]),
      tsc(scratch, [...nodenext, join(scratch, 'stripped', 'errors.mts'), join(scratch, 'stripped', 'errors.cts')]),
    ]);
  });

  it('compiles as is, ESM and CommonJS: every @ts-expect-error is used', () => {
    expect(show(asIs.diagnostics)).to.deep.equal([]);
    expect(asIs.status).to.equal(0);
    expect(asIs.files.some(inDist('esm')) && asIs.files.some(inDist('cjs')), 'both builds compiled').to.equal(true);
  });

  it('raises exactly the named error on each marked line, and no other, once the directives are removed', () => {
    const expected = expectedErrors(readFileSync(join(FIXTURES, NEGATIVE), 'utf8'));
    expect(expected.size, 'number of negative checks').to.be.at.least(15);
    for (const variant of ['errors.mts', 'errors.cts']) {
      const file = real(join(scratch, 'stripped', variant));
      const mine = disarmed.diagnostics.filter((d) => d.file === file);
      const got = new Map<number, string[]>();
      for (const d of mine) got.set(d.line, [...(got.get(d.line) ?? []), d.code]);
      const want = new Map([...expected].map(([line, code]) => [line, [code]]));
      expect(Object.fromEntries(got), `${variant}: line -> error codes\n${show(mine).join('\n')}`).to.deep.equal(Object.fromEntries(want));
    }
    const elsewhere = disarmed.diagnostics.filter((d) => !d.file.includes(`${sep}stripped${sep}`));
    expect(show(elsewhere)).to.deep.equal([]);
  });
}

describe('types: user code compiles against the built declarations', function () {
  this.timeout(120_000);
  this.slow(20_000);
  requireBuilt();

  before(() => {
    scratch = makeScratch();
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const mode of modes) {
    (mode.skip ? describe.skip : describe)(mode.skip ? `${mode.title}: SKIPPED, ${mode.skip}` : mode.title, () => compilesIn(mode));
  }
  describe('declarations type-check themselves (skipLibCheck off)', declarationsTypeCheck);
  describe(`misuse is rejected (${NEGATIVE})`, misuseRejected);
});
