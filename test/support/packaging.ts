// The package as npm publishes it, for the packaging-*.test.ts files: `npm pack` (which runs the
// `prepack` build) from a clean copy of the working tree, so the shared dist/ is left alone, then
// `npm install <tarball>` into a fresh project. Done once per run, whichever file asks first; the
// scratch folder goes when the run ends (KEEP_PACKAGING_TMP=1 keeps it).
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface PackageJson {
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

export interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

export const rootPackage = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

/** The subpaths of `exports` that are modules (not `./package.json`), as import specifiers. */
export const subpaths = Object.keys(rootPackage.exports)
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

/** The JSON array `npm pack --json` prints, even if a build step printed something before it. */
function parsePackJson(stdout: string): PackResult {
  const start = stdout.search(/^\[/m);
  if (start < 0) throw new Error(`npm pack printed no JSON:\n${stdout}`);
  const parsed = JSON.parse(stdout.slice(start)) as PackResult[];
  if (parsed.length !== 1) throw new Error(`npm pack packed ${parsed.length} packages, not 1`);
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

export interface Packed {
  pack: PackResult;
  /** The paths in the tarball, sorted. */
  paths: string[];
  /** The fresh project the tarball is installed into. */
  consumer: string;
  /** The package.json of the installed copy. */
  installed: PackageJson;
}

async function packAndInstall(work: string): Promise<Packed> {
  const tree = join(work, 'tree');
  const out = join(work, 'out');
  const consumer = join(work, 'consumer');
  mkdirSync(out);
  mkdirSync(consumer);
  // No dist/ in the copy: the tarball's dist/ can only come from `prepack`.
  cleanCopy(tree);
  const pack = parsePackJson(await sh('npm', ['pack', '--json', '--pack-destination', out], tree));
  await sh('npm', ['init', '-y'], consumer);
  await sh('npm', ['install', join(out, pack.filename), '--prefer-offline', '--no-audit', '--no-fund'], consumer);
  const installed = JSON.parse(readFileSync(join(consumer, 'node_modules', 'wx-session', 'package.json'), 'utf8')) as PackageJson;
  return { pack, paths: pack.files.map((f) => f.path).sort(), consumer, installed };
}

let packing: Promise<Packed> | undefined;

/** The packed and installed package; the first call packs it (slow: it builds), the others wait for that. */
export function packed(): Promise<Packed> {
  if (!packing) {
    const work = mkdtempSync(join(tmpdir(), 'wx-session-packaging-'));
    process.once('exit', () => {
      if (!process.env.KEEP_PACKAGING_TMP) rmSync(work, { recursive: true, force: true });
    });
    packing = packAndInstall(work);
  }
  return packing;
}

/** Runs `source` with node in the consumer project as a .cjs or .mjs file; what it printed, parsed as JSON. */
export async function runInConsumer(consumer: string, name: string, kind: 'cjs' | 'esm', source: string): Promise<unknown> {
  const script = join(consumer, `${name}.${kind === 'cjs' ? 'cjs' : 'mjs'}`);
  // CommonJS has no top-level await: the same code, in an async function.
  writeFileSync(script, kind === 'cjs' ? `(async () => {${source}})().catch((e) => { console.error(e); process.exit(1); });` : source);
  return JSON.parse(await sh(process.execPath, [script], consumer));
}
