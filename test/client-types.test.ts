// wx-session/client as a game's build sees it: the BUILT files in dist/, reached through the
// package name and its "./client" export.
//   - test/types/client-user.ts compiles with lib ES2017 and no @types at all: the published
//     declarations stand alone (a game needs neither Node's nor WeChat's typings for them);
//   - WeChat's own `wx` (minigame-api-typings) fits the client's `wx` option, from ESM and CommonJS;
//   - the emitted JavaScript is ES2017 syntax with no imports, and small.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { requireBuilt } from './support/built.js';

const run = promisify(execFile);
const ROOT = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const BUILT = ['dist/esm/src/client/index.js', 'dist/cjs/src/client/index.js'];

/** What a strict game project turns on. */
const STRICT = {
  strict: true,
  noEmit: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  forceConsistentCasingInFileNames: true,
  target: 'ES2017',
  lib: ['ES2017'],
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
};

/** Game code handing WeChat's own `wx` (minigame-api-typings) to the client, as ESM and as CommonJS. */
const REAL_WX_ESM = [
  "import { createSessionClient, type WxApi } from 'wx-session/client';",
  'const api: WxApi = wx;',
  "const client = createSessionClient({ baseUrl: 'https://game.example.com', wx });",
  "createSessionClient({ baseUrl: 'https://game.example.com' });",
  "client.request({ url: '/me', method: 'GET', enableHttp2: true }).then((res) => res.statusCode);",
  'export { api };',
].join('\n');
const REAL_WX_CJS = [
  "import client = require('wx-session/client');",
  'const api: client.WxApi = wx;',
  "const c: client.SessionClient = client.createSessionClient({ baseUrl: 'https://game.example.com', wx });",
  'export = { api, c };',
].join('\n');
/** A `wx` without storage or uploadFile: line 2 must not compile. */
const BAD_WX = [
  "import { createSessionClient } from 'wx-session/client';",
  "createSessionClient({ baseUrl: 'https://game.example.com', wx: { login() {}, request() {} } });",
].join('\n');

/** Runs tsc on a tsconfig; returns its output ('' when clean) and the files of the program. */
async function tsc(project: string): Promise<{ output: string; files: string[] }> {
  try {
    const { stdout } = await run(process.execPath, [TSC, '-p', project, '--pretty', 'false', '--listFiles'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    return { output: '', files: stdout.split('\n').filter(Boolean) };
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    return { output: `${e.stdout ?? ''}${e.stderr ?? ''}`.split('\n').filter((line) => !line.startsWith('/')).join('\n') || e.message, files: [] };
  }
}

describe('wx-session/client: built types and output', function () {
  this.timeout(60_000);
  this.slow(10_000);
  requireBuilt();
  let scratch: string;

  before(() => {
    // Inside the repository, so `wx-session/client` resolves by self-reference through "exports".
    scratch = mkdtempSync(join(ROOT, '.tmp-client-types-'));
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  function project(name: string, compilerOptions: Record<string, unknown>, files: string[]): string {
    const path = join(scratch, `${name}.tsconfig.json`);
    writeFileSync(path, JSON.stringify({ compilerOptions: { ...STRICT, ...compilerOptions }, files }));
    return path;
  }

  it('compiles game code with lib ES2017 and no @types: the declarations stand alone', async () => {
    const result = await tsc(project('standalone', { types: [], skipLibCheck: false }, [join(ROOT, 'test/types/client-user.ts')]));
    expect(result.output).to.equal('');
    const declarations = result.files.filter((file) => !/\/typescript\/lib\/lib\.[\w.]+\.d\.ts$/.test(file) && !file.endsWith('client-user.ts'));
    expect(declarations).to.deep.equal([join(ROOT, 'dist/esm/src/client/index.d.ts')]);
  });

  it('takes WeChat\'s own wx (minigame-api-typings), from ESM and from CommonJS', async () => {
    writeFileSync(join(scratch, 'real-wx.ts'), REAL_WX_ESM);
    writeFileSync(join(scratch, 'real-wx.cts'), REAL_WX_CJS);
    const result = await tsc(project('wechat', { types: ['minigame-api-typings'], skipLibCheck: true }, [join(scratch, 'real-wx.ts'), join(scratch, 'real-wx.cts')]));
    expect(result.output).to.equal('');
    expect(result.files).to.include(join(ROOT, 'dist/cjs/src/client/index.d.ts'));
    expect(result.files).to.include(join(ROOT, 'dist/esm/src/client/index.d.ts'));
  });

  it('rejects a wx object that lacks a member the client calls', async () => {
    writeFileSync(join(scratch, 'bad-wx.ts'), BAD_WX);
    const result = await tsc(project('bad', { types: [] }, [join(scratch, 'bad-wx.ts')]));
    expect(result.output).to.match(/bad-wx\.ts\(2,.*error TS2740|bad-wx\.ts\(2,.*error TS2739/);
  });

  it('emits ES2017 syntax with no imports, ESM and CommonJS', async () => {
    const esbuild = await import('esbuild');
    for (const file of BUILT) {
      const code = readFileSync(join(ROOT, file), 'utf8');
      // Lowering to ES2017 changes nothing: no syntax newer than ES2017 (object spread, `?.`, `??`...).
      const format = file.includes('/esm/') ? 'esm' : 'cjs';
      const newest = esbuild.transformSync(code, { format, target: 'esnext' }).code;
      const es2017 = esbuild.transformSync(code, { format, target: 'es2017' }).code;
      expect(es2017, file).to.equal(newest);
      expect(code, file).not.to.match(/^\s*import\s|\brequire\(|\bimport\(/m);
    }
  });

  it('stays small: under 5 KB minified, 2.5 KB gzipped', async () => {
    const esbuild = await import('esbuild');
    const minified = esbuild.transformSync(readFileSync(join(ROOT, BUILT[0]!), 'utf8'), { format: 'esm', minify: true }).code;
    expect(minified.length).to.be.below(5 * 1024);
    expect(gzipSync(minified, { level: 9 }).length).to.be.below(2.5 * 1024);
  });
});
