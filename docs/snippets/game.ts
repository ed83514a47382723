// game.ts: the mini game's network layer. wx-session/client logs in when needed and repairs the
// session on the server's 401s; the game sees only the answers it cares about.
import { createSessionClient, SessionClientError } from 'wx-session/client';

const client = createSessionClient({ baseUrl: 'https://game.example.com' });

interface Me {
  openid: string;
  data: { score?: number };
}

async function logIn(): Promise<boolean> {
  try {
    await client.login();
    return true;
  } catch (error) {
    if (error instanceof SessionClientError && error.code === 'WX_RATE_LIMITED') {
      wx.showToast({ title: `Try again in ${error.retryAfter} s`, icon: 'none' });
      return false;
    }
    throw error;
  }
}

async function showProfile(): Promise<void> {
  const me = await client.request<Me>({ url: '/me' }); // logs in first when there is no token
  if (me.statusCode === 200) console.log(`player ${me.data.openid}, best score ${me.data.data.score ?? 0}`);
}

async function saveScore(score: number): Promise<void> {
  const res = await client.request<{ code?: string }>({ url: '/me/score', method: 'POST', data: { score } });
  console.log(res.statusCode === 200 ? `saved ${score}` : `not saved: ${res.data.code}`);
}

async function play(): Promise<void> {
  if (!(await logIn())) return;
  await showProfile();
  await saveScore(42);
  await saveScore(-1);
  await showProfile();
  await client.logout();
}

play().catch((error: unknown) => console.error('network error', error));
