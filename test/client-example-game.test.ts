// examples/minigame/game.js, the example game, on the client: it plays rounds against the Express
// example server and quits, and tells the player to wait when WeChat rate-limits the login.
import { expect } from 'chai';
import type { FakeWx, GameServer } from './support/client.js';
import { KEY, OPENID, devicePerTest } from './support/client-device.js';

// The example is plain JavaScript (as a game's game.js is): loaded untyped, described here.
interface Game {
  loadProfile(): Promise<{ openid: string; data: { score?: number } }>;
  submitScore(score: number): Promise<number>;
  quit(): Promise<void>;
}
interface GameModule {
  createGame(options: { wx: unknown; baseUrl?: string; notify?: (text: string) => void }): Game;
  playRound(game: Game, score: number): Promise<{ openid: string; best: number; before: number | undefined }>;
}
const loadGame = async () => (await import('../examples/minigame/game.js' as string)) as GameModule;

describe('wx-session/client: examples/minigame/game.js', () => {
  let app: GameServer;
  let wx: FakeWx;
  const { logins } = devicePerTest((device) => ({ app, wx } = device));

  let createGame: GameModule['createGame'];
  let playRound: GameModule['playRound'];
  before(async () => {
    ({ createGame, playRound } = await loadGame());
  });

  it('plays a round against the Express example and quits', async () => {
    const told: string[] = [];
    const game = createGame({ wx, baseUrl: app.url, notify: (text: string) => told.push(text) });
    const first = await playRound(game, 42);
    expect(first).to.deep.equal({ openid: OPENID, best: 42, before: undefined });
    const second = await playRound(game, 10);
    expect(second.best).to.equal(42);
    expect(logins()).to.equal(1);
    await game.quit();
    expect(wx.storage.has(KEY)).to.equal(false);
    expect(told).to.deep.equal([]);
  });

  it('tells the player to wait when WeChat rate-limits the login', async () => {
    const told: string[] = [];
    wx.codeOptions = { errcode: 45011 };
    const game = createGame({ wx, baseUrl: app.url, notify: (text: string) => told.push(text) });
    const error = await game.loadProfile().then(() => null, (e: unknown) => e as { statusCode: number });
    expect(error?.statusCode).to.equal(429);
    expect(told).to.deep.equal(['Too many attempts, try again in 60 s']);
  });
});
