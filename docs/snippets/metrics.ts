import diagnostics from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';

// Counters in Prometheus' text format. (With prom-client: a Counter per name, and .inc(labels).)
const counters = new Map<string, number>();
function count(name: string, labels: Record<string, string>): void {
  const key = `${name}{${Object.entries(labels).map(([label, value]) => `${label}="${value}"`).join(',')}}`;
  counters.set(key, (counters.get(key) ?? 0) + 1);
}

// wx-session:session: one message per login, logout, refresh, eviction and expiry.
diagnostics.subscribe('wx-session:session', (message) => {
  count('wx_session_events_total', { event: (message as { event: string }).event });
});

// wx-session:wechat: a trace per WeChat call; asyncEnd comes once it is over, failed or not.
diagnostics.tracingChannel('wx-session:wechat').subscribe({
  start() {},
  end() {},
  asyncStart() {},
  asyncEnd(context) {
    const { endpoint, errcode } = context as { endpoint: string; errcode?: number };
    count('wx_session_wechat_calls_total', { endpoint, errcode: errcode === undefined ? 'none' : String(errcode) });
  },
  error() {},
});

const wx = wxSession(
  createWxSession({
    appId: process.env.WX_APPID!,
    appSecret: process.env.WX_APPSECRET!,
    secret: process.env.WX_SESSION_SECRET!,
    apiBase: process.env.WX_API_BASE,
    logger: console,
  }),
);
const app = express();
app.use(wx);
app.get('/metrics', (_req, res) => {
  const lines = [...counters].map(([key, value]) => `${key} ${value}`);
  res.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
});

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
