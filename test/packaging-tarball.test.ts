// What the tarball `npm pack` makes holds (test/support/packaging.ts packs it from a clean copy,
// so its dist/ comes from `prepack`): a file for every condition of every export, both builds of
// every module, the README, licence and security notes, sources for the source maps, and no
// tests, fixtures, build info or tooling; at a reasonable size.
import { readFileSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { expect } from 'chai';
import { packed, rootPackage, type Packed } from './support/packaging.js';

/** Size limits: generous, to catch a shipped node_modules/, coverage/ or test fixture, not to nag. */
const MAX_PACKED_BYTES = 600 * 1024;
const MAX_UNPACKED_BYTES = 3 * 1024 * 1024;
const MAX_FILES = 600;

/** Checks the conditions of one export: import and require each with types first, next to its code, from its own build. */
function expectConditions(subpath: string, target: Record<string, Record<string, string>>): void {
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

/** The sources a source map of the installed copy names that are not in the tarball, as `map -> source`. */
function unresolvedSources(pkg: Packed, map: string): string[] {
  const { sources } = JSON.parse(readFileSync(join(pkg.consumer, 'node_modules', 'wx-session', map), 'utf8')) as { sources: string[] };
  return sources.filter((source) => !pkg.paths.includes(posix.normalize(posix.join(posix.dirname(map), source)))).map((source) => `${map} -> ${source}`);
}

describe('packaging: the tarball', function () {
  this.timeout(120_000);
  this.slow(30_000);
  let pkg: Packed;
  before(async () => {
    pkg = await packed();
  });

  it('has a JavaScript file and a declaration for every condition of every subpath export', () => {
    const missing: string[] = [];
    for (const [subpath, target] of Object.entries(pkg.installed.exports)) {
      const files = typeof target === 'string' ? [target] : Object.values(target).flatMap((c) => Object.values(c));
      for (const file of files) if (!pkg.paths.includes(file.replace(/^\.\//, ''))) missing.push(`${subpath}: ${file}`);
      if (typeof target !== 'string') expectConditions(subpath, target);
    }
    expect(missing, 'files named in "exports" but not in the tarball').to.deep.equal([]);
  });

  it('has the files named by main, module and types, and marks dist/cjs as CommonJS', () => {
    for (const field of ['main', 'module', 'types'] as const) {
      const file = pkg.installed[field];
      if (file !== undefined) expect(pkg.paths, `"${field}": ${file}`).to.include(file.replace(/^\.\//, ''));
    }
    expect(pkg.paths).to.include('dist/cjs/package.json');
    const marker = JSON.parse(readFileSync(join(pkg.consumer, 'node_modules', 'wx-session', 'dist', 'cjs', 'package.json'), 'utf8'));
    expect(marker.type).to.equal('commonjs');
    expect(pkg.installed.type).to.equal('module');
  });

  it('has both builds of every module: each dist/esm file has its dist/cjs twin and vice versa', () => {
    const tree = (dir: string) =>
      pkg.paths.filter((p) => p.startsWith(`dist/${dir}/`) && /\.(js|d\.ts)$/.test(p)).map((p) => p.slice(`dist/${dir}/`.length)).sort();
    expect(tree('esm')).to.not.be.empty;
    expect(tree('cjs')).to.deep.equal(tree('esm'));
    for (const p of tree('esm').filter((f) => f.endsWith('.js'))) {
      expect(tree('esm'), `declaration for ${p}`).to.include(p.replace(/\.js$/, '.d.ts'));
    }
  });

  it('was built by prepack (the packed copy of the tree had no dist/)', () => {
    expect(pkg.paths.some((p) => p.startsWith('dist/esm/'))).to.equal(true);
    expect(pkg.paths.some((p) => p.startsWith('dist/cjs/'))).to.equal(true);
  });

  it('has README.md and package.json', () => {
    expect(pkg.paths).to.include('package.json');
    expect(pkg.paths, 'README.md is missing from the package (does the repository have one?)').to.include('README.md');
  });

  it('has README.md, SECURITY.md and LICENSE', () => {
    expect(pkg.paths).to.include.members(['README.md', 'SECURITY.md', 'LICENSE']);
  });

  it('has the sources, docs and examples, and no tests, fixtures, build info or tooling', () => {
    const allowed = /^(dist\/.+|package\.json|README\.md|SECURITY\.md|ARCHITECTURE\.md|LICENSE|(src|adapters)\/.+\.ts|docs\/.+|examples\/.+)$/;
    const forbidden = /(^|\/)(test|tests|__tests__|bench|soak|scripts|coverage|node_modules|\.ci|\.github)\/|\.tsbuildinfo$|\.tgz$|(^|\/)tsconfig[^/]*\.json$|(^|\/)\.mocharc/;
    expect(pkg.paths.filter((p) => !allowed.test(p)), 'files outside the allowed set').to.deep.equal([]);
    expect(pkg.paths.filter((p) => forbidden.test(p)), 'test, tooling or build-info files').to.deep.equal([]);
    expect(pkg.paths.filter((p) => /\.test\.ts$/.test(p) && !p.startsWith('examples/')), 'tests other than the example of testing with the mock').to.deep.equal([]);
  });

  it('ships no source whose relative imports leave the package (the demo, which needs harness/, stays in the repository)', () => {
    const shipped = pkg.paths.filter((p) => /^(src|adapters|examples)\/.+\.(ts|js)$/.test(p));
    const missing = shipped.flatMap((file) => {
      const text = readFileSync(join(pkg.consumer, 'node_modules', 'wx-session', file), 'utf8');
      const specifiers = [...text.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((match) => match[1]!);
      return specifiers
        .map((specifier) => posix.normalize(posix.join(posix.dirname(file), specifier)))
        .filter((target) => ![target, target.replace(/\.js$/, '.ts')].some((candidate) => pkg.paths.includes(candidate)))
        .map((target) => `${file} -> ${target}`);
    });
    expect(shipped.length, 'shipped sources').to.be.greaterThan(20);
    expect(missing).to.deep.equal([]);
  });

  it('has the source every source map names (the maps resolve inside the package)', () => {
    const maps = pkg.paths.filter((p) => p.endsWith('.js.map'));
    expect(maps.length, 'source maps').to.be.greaterThan(10);
    expect(maps.flatMap((map) => unresolvedSources(pkg, map))).to.deep.equal([]);
  });

  it('has a reasonable size', () => {
    expect(pkg.pack.size, 'packed bytes').to.be.below(MAX_PACKED_BYTES);
    expect(pkg.pack.unpackedSize, 'unpacked bytes').to.be.below(MAX_UNPACKED_BYTES);
    expect(pkg.pack.files.length, 'file count').to.be.below(MAX_FILES);
    expect(basename(pkg.pack.filename)).to.equal(`wx-session-${rootPackage.version}.tgz`);
  });
});
