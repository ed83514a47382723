// The test suites the docs give users pass, each under its own runner as a child process:
// docs/testing.md's app.spec.ts (mocha, building app.ts against the mock WeChat), and
// docs/stores.md's conformance suite for my-store.ts, under mocha and under node:test.
import { join } from 'node:path';
import { expect } from 'chai';
import { ROOT, SNIPPETS } from '../scripts/snippets.js';
import { exitOf, runNode } from './support/snippets.js';

const MOCHA = join(ROOT, 'node_modules/mocha/bin/mocha.js');
/** A test file run by mocha alone: no .mocharc.json of ours, so no root hooks of ours. */
const mocha = (name: string) => runNode(name, [MOCHA, '--no-config', '-n', 'import=tsx', `${SNIPPETS}/${name}`]);

describe('docs: the test suites of docs/testing.md and docs/stores.md', function () {
  this.timeout(60_000);
  this.slow(10_000);

  it('app.spec.ts passes under mocha (it builds app.ts against the mock WeChat)', async () => {
    const child = mocha('app.spec.ts');
    expect(await exitOf(child, 60_000), `${child.stdout}\n${child.stderr}`).to.equal(0);
    expect(child.stdout).to.match(/\b4 passing\b/);
  });

  it('my-store.spec.ts: MapStore passes the conformance suite under mocha', async () => {
    const child = mocha('my-store.spec.ts');
    expect(await exitOf(child, 60_000), `${child.stdout}\n${child.stderr}`).to.equal(0);
    expect(child.stdout).to.match(/\b\d{2} passing\b/);
    expect(child.stdout).to.not.match(/pending|failing/);
  });

  it('my-store.node-test.ts: and under node:test', async () => {
    const child = runNode('my-store.node-test.ts', ['--import', 'tsx', '--test', `${SNIPPETS}/my-store.node-test.ts`]);
    expect(await exitOf(child, 60_000), `${child.stdout}\n${child.stderr}`).to.equal(0);
    expect(child.stdout).to.match(/^# pass \d{2}$/m);
    expect(child.stdout).to.match(/^# fail 0$/m);
  });
});
