// The fault matrix's bench for the session_key's APIs and the virtual payment (docs/payments.md):
// the bench of wechat-faults.ts plus one more instance of the same server, an app of
// harness/apps.ts with the player routes (harness/player-routes.ts) and the mock's `payment`
// settings, on the same store, clock and mock. Used by test/faults-wechat-player-apis.test.ts and
// -payments.test.ts.
import { expect } from 'chai';
import type { SessionRecord } from '../../src/index.js';
import type { MockCall } from '../../src/testing/index.js';
import { startApp, type AdapterName, type TestApp } from '../../harness/apps.js';
import { captureLogger } from './keys.js';
import { paymentOption } from './payments.js';
import { H, TIMEOUT, WeChatFaultBench, type Existing } from './wechat-faults.js';

export const RESET = '/wxa/resetusersessionkey';
export const PHONE = '/wxa/business/getuserphonenumber';
export const RISK = '/wxa/getuserriskrank';
export const ENCRYPTED = '/wxa/business/checkencryptedmsg';
export const BALANCE = '/wxa/game/getbalance';
export const PAY = '/wxa/game/pay';
export const CANCEL = '/wxa/game/cancelpay';
export const PRESENT = '/wxa/game/present';

/** How long a late answer ('late' in FAULTS) may take to reach the mock's handler, with room. */
const LANDING_MS = 4000;

export class PlayerFaultBench extends WeChatFaultBench {
  /** checkSessionKey: false and `payment` set: only the call under test talks to WeChat. */
  player!: TestApp;
  readonly playerLogger = captureLogger();
  #zones = 0;

  override async start(): Promise<void> {
    await super.start();
    this.player = await startApp(this.name, {
      mock: this.mock,
      core: { store: this.store, timeout: TIMEOUT, now: this.clock.now, checkSessionKey: false, payment: paymentOption(this.mock), logger: this.playerLogger },
    });
    // The player instance holds an access token already, as the bench's other instances do.
    const warm = await this.player.http.get('/me/balance?zoneId=warm').set(H, await this.probe(this.reader));
    expect(warm.status, JSON.stringify(warm.body)).to.equal(200);
  }

  override async stop(): Promise<void> {
    await this.player?.close();
    await super.stop();
  }

  /** A zone no other cell uses, so an answer landing late moves no other cell's balance. */
  newZone(): string {
    return `z${++this.#zones}`;
  }

  /** A session of its own, logged in through another instance of the same server; its stored record. */
  async ownSession(prefix: string): Promise<{ openid: string; token: string; record: SessionRecord }> {
    const openid = this.newOpenid(prefix);
    const token = await this.loginThrough(this.reader, openid);
    return { openid, token, record: structuredClone(this.recordOf(token)!) };
  }

  /** `one`'s stored record is as it was: same key, not marked stale. */
  expectRecordKept(one: Pick<Existing, 'token' | 'record'>, when: string): void {
    expect(this.recordOf(one.token), `${when}: the stored record`).to.deep.equal(one.record);
  }

  /**
   * Waits until the mock has answered the first recorded call to `path` (a 'late' fault answers
   * normally after its delay): what it answered.
   */
  async landed(path: string): Promise<MockCall> {
    const until = Date.now() + LANDING_MS;
    for (;;) {
      const first = this.mock.callsTo(path)[0];
      expect(first, `a call to ${path} recorded`).to.not.equal(undefined);
      if (first!.status !== 0) return first!;
      expect(Date.now(), `the late call to ${path} reached the mock's handler`).to.be.below(until);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** The mock applied exactly one operation with `billNo` for `openid` in `zoneId`. */
  expectAppliedOnce(openid: string, zoneId: string, billNo: string): void {
    const ops = this.mock.payments.filter((op) => op.openid === openid && op.zoneId === zoneId && op.billNo === billNo);
    expect(ops, `operations with bill_no ${billNo}`).to.have.length(1);
  }
}

export const playerBench = (name: AdapterName): PlayerFaultBench => new PlayerFaultBench(name);
