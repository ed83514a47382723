// Every snippet of README.md and docs/ type-checks against the built package: `wx-session`
// resolves to dist/ through the package's exports, as users get it (scripts/tsconfig.snippets*.json;
// the game-side snippet as mini-game code, with WeChat's own typings and no Node).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT, snippetFiles, SNIPPETS } from '../scripts/snippets.js';
import { requireBuilt } from './support/built.js';

const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const PROJECTS = ['scripts/tsconfig.snippets.json', 'scripts/tsconfig.snippets-game.json'];

describe('docs: every snippet type-checks against the built package', function () {
  this.timeout(120_000);
  this.slow(10_000);
  requireBuilt();

  for (const project of PROJECTS) {
    it(project, () => {
      const result = spawnSync(process.execPath, [TSC, '-p', project], { cwd: ROOT, encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`.trim(), 'tsc errors').to.equal('');
      expect(result.status).to.equal(0);
    });
  }

  it('the two projects hold every snippet, and only the built declarations of wx-session', () => {
    const listed = PROJECTS.flatMap((project) => spawnSync(process.execPath, [TSC, '-p', project, '--listFilesOnly'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n'));
    const inProject = new Set(listed.filter((file) => file.includes(`/${SNIPPETS}/`)).map((file) => file.slice(file.lastIndexOf('/') + 1)));
    expect(snippetFiles().filter((name) => !inProject.has(name)), 'snippets no project compiles').to.deep.equal([]);
    const ours = listed.filter((file) => file.startsWith(`${ROOT}src/`) || file.startsWith(`${ROOT}adapters/`));
    expect(ours, 'sources compiled instead of dist/ declarations').to.deep.equal([]);
  });
});
