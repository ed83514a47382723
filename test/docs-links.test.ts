// The links of README.md, SECURITY.md and docs/*.md: each relative one points at a file the
// package ships (npm pack, with no build run: dist/ is never linked to) and, into a page, at a
// heading that page has (GitHub's anchors). An image (`![alt](docs/playground.png)`) is for the
// repository's pages and stays out of the package (npm does not show a packaged image): it
// points at a file of the repository.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { expect } from 'chai';
import { pages, ROOT } from '../scripts/snippets.js';

/** The files `npm pack` puts in the package. */
function packedFiles(): Set<string> {
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm pack --dry-run failed: ${result.stderr}`);
  const [pack] = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as Array<{ files: Array<{ path: string }> }>;
  return new Set(pack!.files.map((file) => file.path));
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(markdown: string): Set<string> {
  const found = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const base = slug(heading[1]!.trim());
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    found.add(n === 0 ? base : `${base}-${n}`);
  }
  return found;
}

/** The targets of the inline links and images of a page, code blocks and code spans left out. */
function links(markdown: string): Array<{ target: string; image: boolean }> {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/(!?)\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => ({ target: match[2]!, image: match[1] === '!' }));
}

/** What is wrong with the relative links of one page. */
function linkProblems(page: string, packed: Set<string>): string[] {
  const problems: string[] = [];
  if (!packed.has(page)) problems.push(`${page} is not in the package`);
  for (const { target, image } of links(readFileSync(join(ROOT, page), 'utf8'))) {
    if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path = '', anchor] = target.split('#');
    const file = path === '' ? page : posix.normalize(posix.join(posix.dirname(page), path)).replace(/\/$/, '');
    if (image) {
      if (!existsSync(join(ROOT, file))) problems.push(`${page}: image (${target}) -> ${file} is not in the repository`);
      if (packed.has(file)) problems.push(`${page}: image (${target}) -> ${file} is in the package (leave it out in package.json "files")`);
      continue;
    }
    const inPackage = packed.has(file) || [...packed].some((packedFile) => packedFile.startsWith(`${file}/`));
    if (!inPackage) {
      problems.push(`${page}: (${target}) -> ${file} is not in the package`);
      continue;
    }
    if (anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(join(ROOT, file), 'utf8')).has(anchor)) {
      problems.push(`${page}: (${target}) -> no heading #${anchor} in ${file}`);
    }
  }
  return problems;
}

describe('docs: links', () => {
  it('every relative link of README.md, SECURITY.md and docs/ points at a file in the package, and at a heading that exists', function () {
    this.timeout(60_000);
    const packed = packedFiles();
    expect(['SECURITY.md', ...pages()].flatMap((page) => linkProblems(page, packed))).to.deep.equal([]);
  });
});
