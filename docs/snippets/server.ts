// server.ts: the game server in production. Its routes are in app.ts, which the tests import.
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createWxSession } from 'wx-session';
import { RedisStore } from 'wx-session/redis';
import { createApp } from './app.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`not starting: ${name} is not set`);
    process.exit(1);
  }
  return value;
}

// Several instances share their sessions in Redis; a single one may keep them in memory.
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
const store = redis && new RedisStore({ client: redis });

const core = createWxSession({
  appId: required('WX_APPID'),
  appSecret: required('WX_APPSECRET'),
  secret: required('WX_SESSION_SECRET').split(','), // "new,old" while rotating: signs with new, accepts both
  apiBase: process.env.WX_API_BASE,
  store,
  logger: console,
});
try {
  await core.verify(); // a wrong AppID, AppSecret or IP allow-list stops the start, saying which
} catch (error) {
  console.error(`not starting: ${(error as Error).message}`);
  process.exit(1);
}

const server = createApp(core).listen(Number(process.env.PORT ?? 3000), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});

process.once('SIGTERM', () => {
  server.close(async () => {
    await store?.close(); // the store's own subscription connection
    await redis?.quit(); // your client: the store never closes it
  });
});
