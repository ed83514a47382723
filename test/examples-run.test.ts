// The example servers run as users run them (`node --import tsx examples/<name>/server.ts`): they
// read their options from the environment, check the AppID and AppSecret with WeChat before they
// listen (a refusal exits 1 with one line naming WeChat's errcode), listen on PORT, stop on
// SIGTERM, and never print a secret.
import { expect } from 'chai';
import type { MockWeChat } from 'wx-session/testing';
import type { Exit } from '../harness/process.js';
import { freePort } from '../harness/redis.js';
import { waitFor } from '../harness/redis-tools.js';
import { call } from './support/http.js';
import { accepts, examples, freshWeChat, login, PLAYER, runExample, SECRET, STABLE_TOKEN, WRONG_APP_SECRET } from './support/examples.js';

/** Credentials WeChat refuses at start-up, the errcode it answers, and the reason the example prints. */
const REFUSED: Array<[string, (mock: MockWeChat) => Record<string, string>, number, RegExp]> = [
  ['a wrong AppSecret', (m) => ({ WX_APPID: m.appId, WX_APPSECRET: WRONG_APP_SECRET }), 40125, /AppSecret rejected \(40125\): check appSecret \(WX_APPSECRET\)/],
  ['a wrong AppID', (m) => ({ WX_APPID: 'wx0000000000wrongid', WX_APPSECRET: m.appSecret }), 40013, /the AppID is not valid \(40013\): check appId \(WX_APPID\)/],
];

for (const example of examples) {
  describe(`examples/${example.name}: run directly`, function () {
    this.timeout(20_000);
    const wechat = freshWeChat();
    const credentials = () => ({ WX_APPID: wechat.mock.appId, WX_APPSECRET: wechat.mock.appSecret, WX_SESSION_SECRET: SECRET, WX_API_BASE: wechat.mock.url });

    it('runs directly: reads its options from the environment, listens on PORT, stops on SIGTERM', async () => {
      const { mock } = wechat;
      const child = runExample(example, { PORT: '0', ...credentials() });
      let exit: Exit;
      try {
        const [, url] = await child.waitFor(/listening on (http:\/\/localhost:\d+)/, 15_000);
        // The credentials were checked at start-up: the example's first call to WeChat.
        expect(mock.calls[0]?.path).to.equal(STABLE_TOKEN);
        expect(mock.calls[0]?.errcode).to.equal(0);
        expect((await call(`${url}/health`)).status).to.equal(200);
        const token = await login(url + example.loginPath, mock.issueCode(PLAYER), PLAYER);
        expect((await call(`${url}/me`, { token })).status).to.equal(200);
        // A WxSessionError thrown by a route is an answer, not a failure: nothing is printed.
        expect((await call(`${url}/me/storage`, { token, json: {} })).body.code).to.equal('WX_BAD_REQUEST');
      } finally {
        exit = await child.stop();
      }
      expect(exit.code).to.equal(0);
      expect(child.stderr).to.equal('');
      const output = child.stdout + child.stderr;
      expect(output).to.not.include(mock.appSecret);
      expect(output).to.not.include(SECRET);
    });

    it('runs directly: checks the credentials with WeChat before it listens', async () => {
      const { mock } = wechat;
      const port = await freePort();
      mock.fault(STABLE_TOKEN, { delay: 1000 }, { times: 1 }); // WeChat takes its time to answer
      const child = runExample(example, { PORT: String(port), ...credentials() });
      let exit: Exit;
      try {
        await waitFor(() => mock.callsTo(STABLE_TOKEN).length === 1, 'the start-up stable_token call', 10_000);
        expect(await accepts(port), 'listening while the credentials are being checked').to.equal(false);
        expect(child.stdout).to.equal('');
        await child.waitFor(/listening on/, 10_000);
        expect(await accepts(port)).to.equal(true);
        expect(mock.calls.map((c) => c.path)).to.deep.equal([STABLE_TOKEN]);
      } finally {
        exit = await child.stop();
      }
      expect(exit.code).to.equal(0);
      expect(child.stderr).to.equal('');
      expect(child.stdout + child.stderr).to.not.include(mock.appSecret).and.not.include(SECRET);
    });

    for (const [what, refused, errcode, reason] of REFUSED) {
      it(`runs directly: ${what} exits 1 at start with one line naming ${errcode}, and it never listens`, async () => {
        const { mock } = wechat;
        const port = await freePort();
        mock.fault(STABLE_TOKEN, { delay: 500 }, { times: 1 }); // time to see that nothing listens meanwhile
        const child = runExample(example, { ...credentials(), PORT: String(port), ...refused(mock) });
        await waitFor(() => mock.callsTo(STABLE_TOKEN).length === 1, 'the start-up stable_token call', 10_000);
        expect(await accepts(port), 'listening while the credentials are being checked').to.equal(false);
        expect((await child.exited(15_000)).code).to.equal(1);
        expect(await accepts(port)).to.equal(false);
        // One line on stderr, the example's, with WeChat's reason; nothing on stdout.
        const lines = child.stderr.split('\n');
        expect(lines, child.stderr).to.have.length(2);
        expect(lines[1]).to.equal('');
        expect(lines[0]).to.match(new RegExp(`^wx-session ${example.title} example: ${reason.source}`));
        expect(child.stdout).to.equal('');
        // WeChat was asked once, and answered the errcode; nothing else was called.
        expect(mock.calls.map((c) => [c.path, c.errcode])).to.deep.equal([[STABLE_TOKEN, errcode]]);
        for (const secret of [mock.appSecret, WRONG_APP_SECRET, SECRET]) expect(child.stdout + child.stderr).to.not.include(secret);
      });
    }

    it('runs directly: exits 1 and says what is missing without WX_APPID & co', async () => {
      const child = runExample(example, { PORT: '0' });
      expect((await child.exited(15_000)).code).to.equal(1);
      expect(child.stderr).to.match(/set WX_APPID, WX_APPSECRET and WX_SESSION_SECRET/);
    });
  });
}
