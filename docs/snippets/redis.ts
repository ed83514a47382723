import type { AddressInfo } from 'node:net';
import express from 'express';
import { Redis } from 'ioredis';
import { createWxSession } from 'wx-session';
import { wxSession } from 'wx-session/express';
import { RedisStore } from 'wx-session/redis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const store = new RedisStore({
  client: redis,
  prefix: 'mygame:', // every key and channel of this app; the same on every instance
  timeout: 1000, // ms; a slower Redis operation fails the request with 503 WX_STORE_UNAVAILABLE
  cache: { max: 10_000, ttl: 10_000 }, // the in-process cache of session records
});

const wx = wxSession(
  createWxSession({
    appId: process.env.WX_APPID!,
    appSecret: process.env.WX_APPSECRET!,
    secret: process.env.WX_SESSION_SECRET!, // the same secret(s) on every instance
    apiBase: process.env.WX_API_BASE,
    store,
    logger: console,
  }),
);

const app = express();
app.use(wx);
app.get('/me', wx.required, (req, res) => {
  res.json({ openid: req.wxSession!.openid });
});
// For the load balancer: ready once the store hears the other instances' changes.
app.get('/ready', async (_req, res) => {
  res.status((await store.ready(1000)) ? 200 : 503).end();
});

const server = app.listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.close(async () => {
    await store.close(); // the connections the store opened itself
    await redis.quit(); // your client: the store never closes it
  });
});
