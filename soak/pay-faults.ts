// The faults the soak injects on WeChat's pay, run inside the mock's process (soak/mock-process.ts):
//   busy     every pay answers -1 for a while (a window, not a number of calls: with many players
//            paying at once, a few -1s would be spread over many calls and each absorbed by the
//            library's own retries);
//   timeout  the next pay is applied but never answered, as when WeChat's answer is lost: the
//            mock holds the call open (the instance answers 504 at its timeout) and this module
//            sends the call to the mock again, so that it lands either at once (before the player's
//            retry, which then finds the billNo paid: 90012) or after the retry (which paid it: the
//            late one is answered 90012).
// The mock's own `delay` fault would not do for the timeout: it decides the answer only after the
// delay, when the instance's access token may have been expired meanwhile (42001: not applied).
// A fault is declined while a -1 window or an unseen held call is under way, so a window's end
// (which clears the path's faults) never drops a held call; a held call is sent again only when
// no other waits to be held, so it meets no fault but a -1 window (after which it is sent again).
import type { MockCall, MockWeChat } from '../src/testing/index.js';

export const PAY_PATH = '/wxa/game/pay';

/** A held call refused for a reason that passes (a stale access token, a -1 window), or waiting for another to be held, is sent again this often, this many times. */
const LAND_RETRY_MS = 100;
const LAND_TRIES = 50;
const PASSING_ERRCODES = new Set([-1, 40001, 42001]);

export class PayFaults {
  readonly #mock: MockWeChat;
  /** For the timeout fault not yet seen in the call log: how long after it is seen its call lands. */
  #hold: number | undefined;
  /** A -1 window under way. */
  #busy = false;
  /** Held calls sent to the mock again, and how many it applied (errcode 0). */
  landed = 0;
  applied = 0;

  constructor(mock: MockWeChat) {
    this.#mock = mock;
  }

  get #idle(): boolean {
    return this.#hold === undefined && !this.#busy;
  }

  /** Every pay answers -1 for `ms`; false (declined) while another fault is under way. */
  busy(ms: number): boolean {
    if (!this.#idle) return false;
    this.#busy = true;
    this.#mock.fault(PAY_PATH, { errcode: -1 });
    setTimeout(() => {
      this.#mock.clearFaults(PAY_PATH);
      this.#busy = false;
    }, ms).unref();
    return true;
  }

  /** The next pay is applied but not answered; it lands `landAfterMs` after it is seen. False (declined) while another fault is under way. */
  timeout(landAfterMs: number): boolean {
    if (!this.#idle) return false;
    this.#mock.fault(PAY_PATH, { hang: true }, { times: 1 });
    this.#hold = landAfterMs;
    return true;
  }

  /** Drops a fault not yet met (a held call already seen still lands). */
  clear(): void {
    this.#mock.clearFaults(PAY_PATH);
    this.#hold = undefined;
    this.#busy = false;
  }

  /** A pay call from the log: one still unanswered is the held one (the other answers are sent at once). */
  seen(call: MockCall): void {
    if (call.status !== 0 || this.#hold === undefined) return;
    const after = this.#hold;
    this.#hold = undefined;
    // Not landed (it failed): the player's retry pays it.
    setTimeout(() => void this.#land(call).catch(() => {}), after).unref();
  }

  /** The held call as it was sent (its signatures cover the body), with a valid access token. */
  async #land(call: MockCall): Promise<void> {
    this.landed += 1;
    for (let tries = 0; tries < LAND_TRIES; tries++) {
      const token = this.#mock.currentAccessToken();
      if (token && this.#hold === undefined) {
        const query = new URLSearchParams({ ...call.query, access_token: token });
        const response = await fetch(`${this.#mock.url}${PAY_PATH}?${query}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: call.body ?? '',
          signal: AbortSignal.timeout(2000),
        });
        const { errcode } = (await response.json()) as { errcode?: number };
        if (errcode === 0) this.applied += 1;
        if (!PASSING_ERRCODES.has(errcode ?? 0)) return;
      }
      await new Promise((resolve) => setTimeout(resolve, LAND_RETRY_MS));
    }
  }
}
