// The conformance suite's tests of several apps on one store (docs/several-games.md): a core
// serving a WeChat, a Douyin and a QQ game, or two cores of two games, share one store and its
// prefix.
// Each session keeps the app it was made for, and each app's shared access token (the store's
// `accessTokens`, when offered) and its locks are that app's alone.
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sampleId, sampleRecord, type SuiteContext } from './store-suite-kit.js';

const appIdLike = () => `wx${randomBytes(8).toString('hex')}`;

export function appTests(ctx: SuiteContext): void {
  const { it } = ctx;

  it('several apps: each session keeps the appId it was stored with, the same openid in two apps included', async () => {
    const s = await ctx.store();
    const [appA, appB] = [appIdLike(), appIdLike()];
    const openid = `oBoth${randomBytes(6).toString('base64url')}`;
    const [a, b] = [sampleId(), sampleId()];
    await s.set(a, sampleRecord(60_000, { appId: appA, openid }), 60_000);
    await s.set(b, sampleRecord(60_000, { appId: appB, openid }), 60_000);
    strictEqual((await s.get(a))?.appId, appA);
    strictEqual((await s.get(b))?.appId, appB);
    await s.destroy(a);
    strictEqual(await s.get(a), undefined);
    strictEqual((await s.get(b))?.appId, appB, "one app's logout leaves the other app's session");
  });

  it("several apps: accessTokens (when offered) keeps each app's token, its drop and its locks apart", async () => {
    const s = await ctx.store();
    const tokens = s.accessTokens;
    if (!tokens) return;
    const [appA, appB] = [appIdLike(), appIdLike()];
    await tokens.set(appA, 'tokenOfA', 60_000);
    strictEqual(await tokens.get(appB), undefined, "app B does not see app A's token");
    await tokens.set(appB, 'tokenOfB', 60_000);
    deepStrictEqual((await tokens.get(appA))?.token, 'tokenOfA');
    deepStrictEqual((await tokens.get(appB))?.token, 'tokenOfB');
    await tokens.drop(appA, 'tokenOfB'); // app A's drop of the other app's token value: nothing
    strictEqual((await tokens.get(appA))?.token, 'tokenOfA');
    await tokens.drop(appA, 'tokenOfA');
    strictEqual(await tokens.get(appA), undefined);
    strictEqual((await tokens.get(appB))?.token, 'tokenOfB', "app A's drop leaves app B's token");
    const lockA = await tokens.lock(appA, 'refresh', 5_000);
    ok(lockA, "app A's lock is taken");
    const lockB = await tokens.lock(appB, 'refresh', 5_000);
    ok(lockB, "app B's lock of the same name is its own");
    strictEqual(await tokens.lock(appA, 'refresh', 5_000), undefined, "app A's lock is held");
    await lockA();
    await lockB();
  });

  if (ctx.shared) {
    it('several apps, two instances: each instance reads every app\'s token as stored, and no other', async () => {
      const [one, two] = [await ctx.store(), await ctx.store()];
      if (!one.accessTokens || !two.accessTokens) return;
      const [appA, appB] = [appIdLike(), appIdLike()];
      await one.accessTokens.set(appA, 'tokenOfA', 60_000);
      await two.accessTokens.set(appB, 'tokenOfB', 60_000);
      strictEqual((await two.accessTokens.get(appA))?.token, 'tokenOfA');
      strictEqual((await one.accessTokens.get(appB))?.token, 'tokenOfB');
    });
  }
}
