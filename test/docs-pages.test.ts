// README.md and docs/*.md as users read them (issue 11). Every ts/js block of a page is a file
// under docs/snippets/, written into the page by scripts/snippets.ts (`npm run docs`): each block
// is marked and byte-identical to its file, every snippet file is shown and run by a test (the
// docs-snippets-*.test.ts files; EXERCISED says how), and README is the first five minutes (at
// most 300 lines, `npm start` and `npm test` on its first screen).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { CLOSE, CODE_LANGUAGES, codeBlocks, languageOf, pages, readSnippet, ROOT, snippetFiles, SNIPPETS } from '../scripts/snippets.js';

const README_MAX_LINES = 300;

/** How each snippet is exercised; the test fails for a snippet file missing here. */
const EXERCISED: Readonly<Record<string, string>> = {
  'quick-start.ts': 'run: its curl line logs in against its own mock; /me and /me/score driven',
  'real-credentials.ts': 'run to its end: good credentials exit 0, a wrong AppSecret or a missing AppID exit 1 saying which',
  'koa.ts': 'run: login, /me, logout on the routes it mounts',
  'fastify.ts': 'run: login and logout, an optional and a required session, a thrown WxSessionError answered',
  'hono.ts': 'run: login and logout, an optional and a required session, a thrown WxSessionError answered',
  'nestjs.ts': 'run: login and logout, an optional and a required session (behind the body parser), a thrown WxSessionError answered',
  'express-pieces.ts': 'run: custom login path, an optional and a required route',
  'session-key.ts': 'run: signed storage write, a rotated key repaired with X-WX-Code, decrypt',
  'crypto-helpers.ts': "run to its end: prints WeChat's vector",
  'pay-sig.ts': "run to its end: prints the pay_sig and signature of WeChat's mini-game payment vector",
  'payments.ts': 'run: balance, a buy and its retry (90012), -1, 90013, 45011, a config errcode, 90010 repaired with X-WX-Code, the sandbox, a wrong AppKey',
  'player-apis.ts': 'run: the phone number bound into session.data (spent, foreign, long codes, 45011), the risk rank, the encrypted-data check',
  'access-token-service.ts': 'run: checkKey with the token of a token service, no stable_token call',
  'metrics.ts': 'run: /metrics counts logins, logouts and WeChat calls',
  'otel.ts': 'a module: loaded in the test process with a recording tracer around real WeChat calls',
  'app.ts': 'a module: exercised by app.spec.ts and server.ts',
  'app.spec.ts': 'run with mocha',
  'server.ts': 'run: the routes, SIGTERM, bad configuration; with Redis two instances and a secret rotation',
  'game.ts': 'run with a fake wx against server.ts; also with the login rate-limited',
  'my-store.ts': 'a module: exercised by my-store.spec.ts and my-store.node-test.ts',
  'my-store.spec.ts': 'run with mocha: the store conformance suite',
  'my-store.node-test.ts': 'run with node --test: the same suite',
  'redis.ts': 'run on a private redis-server: two instances share sessions, SIGTERM closes the connections',
  'redis-cluster.ts': 'compiled only: a Cluster client (the Cluster tests run the store on a real one)',
  'several-games.ts': 'run against three mocks (WeChat, Douyin, QQ): a login and a signed write on each game, a Douyin guest, the 400s and 401 of a login naming the wrong game, a refused AppSecret',
};

/** What is wrong with the code blocks of one page: unmarked, unclosed, mislabelled or out of date. */
function blockProblems(page: string): string[] {
  const problems: string[] = [];
  for (const block of codeBlocks(readFileSync(join(ROOT, page), 'utf8'))) {
    const where = `${page}:${block.line}`;
    if (block.snippet === undefined) {
      if (CODE_LANGUAGES.has(block.language)) problems.push(`${where}: a ${block.language} block without <!-- snippet: NAME --> before it`);
      continue;
    }
    if (!existsSync(join(ROOT, SNIPPETS, block.snippet))) {
      problems.push(`${where}: ${SNIPPETS}/${block.snippet} does not exist`);
      continue;
    }
    if (!block.closed) problems.push(`${where}: no ${CLOSE} right after the block`);
    if (block.language !== languageOf(block.snippet)) problems.push(`${where}: fenced as "${block.language}", not ${languageOf(block.snippet)}`);
    if (block.content !== readSnippet(block.snippet)) problems.push(`${where}: differs from ${SNIPPETS}/${block.snippet} (run npm run docs)`);
  }
  return problems;
}

describe('docs: the pages', () => {
  it(`README.md is at most ${README_MAX_LINES} lines, with npm install, npm start and npm test on its first screen`, () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
    expect(lines.length, 'README.md lines').to.be.at.most(README_MAX_LINES);
    const first = lines.slice(0, 60);
    for (const command of ['npm install', 'npm start', 'npm test']) {
      expect(first.some((line) => line === command || line.startsWith(`${command} `)), `a line "${command}" in the first 60`).to.equal(true);
    }
  });

  it('every ts/js block is between snippet markers and byte-identical to its file', () => {
    expect(pages().flatMap(blockProblems)).to.deep.equal([]);
  });

  it('every snippet file is shown in a page and has a way to be exercised', () => {
    const shown = new Set(pages().flatMap((page) => codeBlocks(readFileSync(join(ROOT, page), 'utf8')).map((block) => block.snippet)));
    const files = snippetFiles();
    expect(files.filter((name) => !shown.has(name)), 'snippet files no page shows').to.deep.equal([]);
    expect(files.filter((name) => !(name in EXERCISED)), 'snippet files no test exercises').to.deep.equal([]);
    expect(Object.keys(EXERCISED).filter((name) => !files.includes(name)), 'exercised names with no file').to.deep.equal([]);
  });
});
