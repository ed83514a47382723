// The playground page: two phones of one player, each running wx-session/client (the library's
// own build, served by the demo as it is) over the browser `wx` of ./wx.js; the demo's levers
// behind the scenes; and the diagram (./diagram.js), fed by the demo's events, a long poll.
import { createSessionClient } from '/playground/client/index.js';
import { Diagram } from './diagram.js';
import { browserWx } from './wx.js';

/**
 * A token as the page shows it, as the diagram does: enough to recognise (a re-issued token has
 * the same start and another end), not enough to use.
 */
function shortToken(token) {
  return `${token.slice(0, 8)}…${token.slice(-4)} (${token.length} chars)`;
}

const diagram = new Diagram({
  list: document.getElementById('diagram'),
  empty: document.getElementById('diagram-empty'),
  details: document.getElementById('details'),
});
const hint = document.getElementById('hint');
const connection = document.getElementById('connection');

/** Actions under way, for whoever waits for the page to settle (the browser test). */
let pending = 0;
function settled() {
  document.body.dataset.pending = String(pending);
}
async function busy(work) {
  pending += 1;
  settled();
  try {
    await work();
  } finally {
    pending -= 1;
    settled();
  }
}

// ---------------------------------------------------------------------------------------------
// The phones

function phone(device) {
  const root = document.getElementById(device);
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const client = createSessionClient({ baseUrl: location.origin, wx: browserWx(device) });
  let queue = Promise.resolve();

  function show({ openid, score, said } = {}) {
    const token = client.token();
    field('token').textContent = token ? shortToken(token) : 'none';
    if (openid !== undefined) field('openid').textContent = openid;
    if (!token && openid === undefined) field('openid').textContent = 'not logged in';
    if (score !== undefined && field('score')) field('score').textContent = String(score);
    if (said !== undefined) field('said').textContent = said;
  }

  /** What became of the token over one request. */
  function tokenStory(before, res) {
    const after = client.token();
    if (!before) return after ? ' The client logged in first (no token was stored).' : '';
    if (after === before) return ' Same token.';
    if (after && res.header['x-wx-session-token']) return ' The answer carried X-WX-Session-Token: the client now keeps the re-issued token.';
    if (after) return ' The client logged in again: new token.';
    return ' The client forgot its token.';
  }

  const actions = {
    async login() {
      try {
        const result = await client.login();
        show({ openid: result.openid, said: `Logged in: POST /wx/login answered 200 and a token (kept in localStorage). The session_key stayed on the server.` });
      } catch (error) {
        show({ said: `Login refused: ${error.statusCode ? `${error.statusCode} ` : ''}${error.code}.` });
      }
    },
    async me() {
      const before = client.token();
      const res = await client.request({ url: '/me' });
      if (res.statusCode === 200) {
        const score = res.data && res.data.data && res.data.data.score;
        show({ openid: res.data.openid, score: score === undefined ? '–' : score, said: `GET /me answered 200.${tokenStory(before, res)}` });
      } else {
        show({ said: `GET /me answered ${res.statusCode}${res.data && res.data.code ? ` ${res.data.code}` : ''}.${tokenStory(before, res)}` });
      }
    },
    async score() {
      const before = client.token();
      const current = Number(field('score').textContent);
      const score = (Number.isInteger(current) ? current : 0) + 100;
      const res = await client.request({ url: '/me/score', method: 'POST', data: { score } });
      if (res.statusCode === 200) show({ score: res.data.score, said: `POST /me/score answered 200: ${res.data.score} is saved in the session.${tokenStory(before, res)}` });
      else show({ said: `POST /me/score answered ${res.statusCode}${res.data && res.data.code ? ` ${res.data.code}` : ''}.${tokenStory(before, res)}` });
    },
    async logout() {
      await client.logout();
      show({ said: 'Logged out: POST /wx/logout, and the client forgot the token.' });
      field('openid').textContent = 'not logged in';
    },
  };

  root.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button) return;
    const action = actions[button.dataset.action];
    // One action at a time per phone, in the order pressed.
    queue = queue.then(() =>
      busy(() =>
        action().catch((error) => {
          show({ said: `Failed: ${error && error.message ? error.message : String(error)}` });
        }),
      ),
    );
  });
  show();
}

phone('phone-1');
phone('phone-2');

// ---------------------------------------------------------------------------------------------
// Behind the scenes: the demo's levers

const HINTS = {
  'rotate-session-key': "WeChat replaced the player's session_key. Call /me on phone 1: 401 WX_SESSION_KEY_EXPIRED, a fresh wx.login(), the retry with X-WX-Code, and the same token.",
  'expire-access-token': "The server's access token now answers 42001. Call /me: the server gets a new one from stable_token and tries again.",
  'rotate-signing-secret': 'The server now signs with a new secret and still accepts the old one. Call /me: the answer carries the token re-issued in X-WX-Session-Token.',
  normal: 'WeChat answers normally again.',
  slow: 'WeChat answers too late. Call /me: the check of the session_key times out and the request goes on (it fails open). Log in: 504 WX_UPSTREAM_TIMEOUT.',
  down: 'WeChat answers HTTP 502. Log in: 502 WX_UPSTREAM_ERROR. Call /me: the check fails open. After a failed check the server skips checks for 5 s: one failing call per pause, not one per request.',
};

async function control(path, body) {
  const response = await fetch(`/playground/api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body || {}),
  });
  if (!response.ok) throw new Error(`the demo answered ${response.status}`);
  return response.json();
}

function showMode(mode) {
  for (const button of document.querySelectorAll('[data-wechat]')) button.setAttribute('aria-pressed', String(button.dataset.wechat === mode));
}

document.querySelector('.backstage').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-control], button[data-wechat]');
  if (!button) return;
  const lever = button.dataset.control;
  const mode = button.dataset.wechat;
  busy(async () => {
    try {
      if (lever) await control(lever);
      else {
        const answer = await control('wechat', { mode });
        showMode(answer.wechat);
      }
      hint.textContent = HINTS[lever || mode];
    } catch (error) {
      hint.textContent = `Failed: ${error.message}`;
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The diagram: the demo's events, by long poll

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function follow() {
  let after = 0;
  for (;;) {
    try {
      const response = await fetch(`/playground/api/events?after=${after}`);
      if (!response.ok) throw new Error(String(response.status));
      const { events, wechat, latest } = await response.json();
      if (latest < after) {
        // The demo was restarted: its events start again from 1.
        diagram.clear();
        after = 0;
        continue;
      }
      for (const event of events) {
        diagram.add(event);
        after = event.seq;
      }
      showMode(wechat);
      connection.textContent = 'live';
      connection.dataset.state = 'live';
    } catch (_) {
      connection.textContent = 'the demo is not answering: is npm start running?';
      connection.dataset.state = 'down';
      await sleep(2000);
    }
  }
}

settled();
follow();
