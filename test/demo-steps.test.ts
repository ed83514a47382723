// The walk-through of `npm start` in this process: runSteps numbers the steps, prints their
// lines and stops at the first failure saying why; the demo's own steps pass against the Express
// example, and the storage step fails, saying why, when WeChat refuses the signed call.
import { expect } from 'chai';
import { startMockWeChat, type MockWeChat } from 'wx-session/testing';
import { runSteps, type Step } from '../examples/demo-runner.js';
import { steps } from '../examples/demo-steps.js';
import { createApp } from '../examples/express/server.js';
import { closeServer, listen } from '../harness/apps.js';

const SESSION_SECRET = 'demo-test-session-secret-0123456789abcdef';

/** Runs the demo's own steps against the Express example, as the demo does; `setup` scripts the mock first. */
async function runDemoSteps(setup: (mock: MockWeChat) => void = () => {}): Promise<{ passed: boolean; lines: string[] }> {
  const mock = await startMockWeChat();
  setup(mock);
  const app = createApp({ appId: mock.appId, appSecret: mock.appSecret, secret: SESSION_SECRET, apiBase: mock.url, checkSessionKey: { interval: 0 }, timeout: 1000 });
  const { server, url } = await listen(app);
  const lines: string[] = [];
  try {
    const passed = await runSteps(steps, { baseUrl: url, mock }, (line) => lines.push(line));
    return { passed, lines };
  } finally {
    await closeServer(server);
    await mock.close();
  }
}

describe('the walk-through of npm start (runSteps)', function () {
  this.timeout(30_000);

  it('numbers the steps, stops at the first failure and says why', async () => {
    const lines: string[] = [];
    const ran: string[] = [];
    const list: Step[] = [
      { title: 'first', run: async (ctx) => { ran.push('first'); ctx.log('detail'); } },
      { title: 'second', run: async () => { ran.push('second'); throw new Error('expected HTTP 200, got 502'); } },
      { title: 'third', run: async () => { ran.push('third'); } },
    ];
    const mock = await startMockWeChat();
    try {
      const passed = await runSteps(list, { baseUrl: 'http://127.0.0.1:1', mock }, (line) => lines.push(line));
      expect(passed).to.equal(false);
    } finally {
      await mock.close();
    }
    expect(ran).to.deep.equal(['first', 'second']);
    expect(lines).to.deep.equal(['', '1. first', '   detail', '', '2. second', '   FAILED: expected HTTP 200, got 502']);
  });

  it("passes with the demo's own steps in-process", async () => {
    const { passed, lines } = await runDemoSteps();
    expect(passed, lines.join('\n')).to.equal(true);
    expect(lines.filter((line) => /^\d+\. /.test(line))).to.have.length(steps.length);
  });

  it('fails the storage step, saying why, when WeChat refuses the signed call', async () => {
    const { passed, lines } = await runDemoSteps((mock) => mock.fault('/wxa/set_user_storage', { errcode: 87018 }));
    expect(passed).to.equal(false);
    expect(lines.at(-1)).to.match(/^   FAILED: POST \/me\/storage answered 502 \{"code":"WX_UPSTREAM_ERROR"/);
    expect(lines).to.include(`3. ${steps[2]!.title}`);
    expect(lines).to.not.include(`4. ${steps[3]!.title}`);
  });
});
