// docs/client.md's game.ts runs as mini-game code against the docs' server.ts: a fake `wx`
// (test/support/docs-wx.ts, loaded with --import) gets its login codes from this test's door to
// the mock WeChat and sends its requests with fetch; the game's output and requests are checked.
import type { Server as HttpServer } from 'node:http';
import { expect } from 'chai';
import type { MockIssueCodeOptions } from 'wx-session/testing';
import { closeServer, listen } from '../harness/apps.js';
import { exitOf, runSnippet, snippetWeChat, startServer, type Server } from './support/snippets.js';

const FAKE_WX = './test/support/docs-wx.ts';
const PLAYER = 'oDocsGamePlayer';

describe('docs: the snippet of docs/client.md', function () {
  this.timeout(60_000);
  this.slow(10_000);
  const wechat = snippetWeChat();
  let game: Server;
  let codes: { server: HttpServer; url: string };
  /** How the next login codes the fake `wx` gets redeem. */
  let codeOptions: MockIssueCodeOptions | undefined;

  before(async () => {
    game = await startServer('server.ts', wechat.env, { suite: true });
    codes = await listen((_req, res) => res.end(wechat.mock.issueCode(PLAYER, codeOptions)));
  });
  after(async () => {
    await game.stop();
    await closeServer(codes.server);
  });

  const play = () => runSnippet('game.ts', { DOCS_GAME_SERVER: game.url, DOCS_WX_CODES: codes.url }, { preload: [FAKE_WX] });

  it('game.ts: logs in, shows the profile, saves a score, is told a bad one was refused, logs out', async () => {
    codeOptions = undefined;
    const child = play();
    expect(await exitOf(child), child.stderr).to.equal(0);
    expect(child.stdout.trim().split('\n')).to.deep.equal([
      `player ${PLAYER}, best score 0`,
      'saved 42',
      'not saved: WX_BAD_REQUEST',
      `player ${PLAYER}, best score 42`,
    ]);
    expect(child.stderr.trim().split('\n')).to.deep.equal([
      'wx.request POST /wx/login -> 200',
      'wx.request GET /me -> 200',
      'wx.request POST /me/score -> 200',
      'wx.request POST /me/score -> 400',
      'wx.request GET /me -> 200',
      'wx.request POST /wx/logout -> 204',
    ]);
  });

  it('game.ts: a login WeChat rate-limits shows the toast with Retry-After', async () => {
    codeOptions = { errcode: 45011 };
    const child = play();
    expect(await exitOf(child), child.stderr).to.equal(0);
    expect(child.stdout.trim(), child.stderr).to.equal('toast: Try again in 60 s');
    expect(child.stderr.trim()).to.equal('wx.request POST /wx/login -> 429');
  });
});
