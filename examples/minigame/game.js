// wx-session/client in a WeChat mini game: log in, read the player's profile, post a score, log out,
// against the game server of examples/express/server.ts (GET /me, POST /me/score).
//
// In a real game this is (part of) game.js, run by WeChat, which provides the global `wx`. How the
// import reaches the client:
//   - with a bundler (a game engine's build, webpack, esbuild, vite...): import it by name, as here;
//   - without one: copy node_modules/wx-session/dist/cjs/src/client/index.js into the game (it has
//     no imports of its own) and write `const { createSessionClient } = require('./wx-session-client.js')`.
// Add the server's domain to the game's "request" (and "uploadFile") legal domains in the WeChat
// admin console, as for any wx.request.
//
// Everything here takes `wx` as a parameter (the global one in a game), so test/client-example-game.test.ts
// runs this very file in Node against a fake `wx` that makes real HTTP requests.
import { createSessionClient } from 'wx-session/client';

/** Where the game server runs (HTTPS in production: WeChat refuses plain HTTP outside the devtools). */
const GAME_SERVER = 'https://game.example.com';

/**
 * The game's network layer.
 * @param {object} options
 * @param {object} options.wx WeChat's `wx` (or anything with the same login/request/uploadFile/storage members)
 * @param {string} [options.baseUrl] the game server
 * @param {(text: string) => void} [options.notify] tells the player something (default: wx.showToast)
 */
export function createGame({ wx, baseUrl = GAME_SERVER, notify }) {
  // One client for the whole game. It keeps the token in wx storage (so a relaunched game does not
  // log in again), logs in by itself when there is none, and lets concurrent requests share one login.
  const client = createSessionClient({ baseUrl, wx });
  const tell = notify || ((text) => wx.showToast({ title: text, icon: 'none' }));

  /**
   * Why a request did not work, told to the player. `res` is a wx.request-style answer: the client
   * resolves for every HTTP status, once it has handled the session (re-login, key refresh) itself.
   */
  function explain(res) {
    const code = res.data && res.data.code;
    if (res.statusCode === 429) {
      // WeChat limits logins per user and minute: never retry in a loop, wait as told.
      const header = res.header || {};
      const wait = header['Retry-After'] || header['retry-after'] || '60';
      tell(`Too many attempts, try again in ${wait} s`);
    } else if (res.statusCode === 401 || res.statusCode === 403) {
      tell('Could not sign in with WeChat');
    } else {
      tell('The server is busy, try again later');
    }
    const error = new Error(`request failed: ${res.statusCode} ${code || ''}`);
    error.statusCode = res.statusCode;
    error.code = code;
    return error;
  }

  /** Network failures (offline, timeout) reject; the session is kept for the next try. */
  async function call(options) {
    try {
      return await client.request(options);
    } catch (error) {
      tell('No network, try again');
      throw error;
    }
  }

  return {
    client,

    /** The player's profile `{ openid, data }`; the first call logs in. */
    async loadProfile() {
      const res = await call({ url: '/me' });
      if (res.statusCode !== 200) throw explain(res);
      return res.data;
    },

    /** Saves the score in the player's server session. */
    async submitScore(score) {
      const res = await call({ url: '/me/score', method: 'POST', data: { score } });
      if (res.statusCode !== 200) throw explain(res);
      return res.data.score;
    },

    /** Logs out: the server forgets the session and the token leaves wx storage. */
    async quit() {
      await client.logout();
    },
  };
}

/** What the game does at start-up and at the end of a round. */
export async function playRound(game, score) {
  const before = await game.loadProfile();
  const saved = await game.submitScore(Math.max(score, before.data.score || 0));
  const after = await game.loadProfile();
  return { openid: after.openid, best: saved, before: before.data.score };
}

// Inside WeChat: the global `wx` exists, so the game starts. (Under Node nothing runs on import.)
if (typeof wx !== 'undefined' && typeof wx.login === 'function') {
  // eslint-disable-next-line no-undef
  const game = createGame({ wx });
  playRound(game, 100).then(
    (result) => console.log('best score', result.best),
    (error) => console.warn('round not saved:', error.message),
  );
}
