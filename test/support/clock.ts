// A clock the test moves by hand, for the `now` option of the core and of MemoryStore: time
// passes when the test says so, never by sleeping.
export interface TestClock {
  /** The time, epoch ms: pass it as `now`. */
  readonly now: () => number;
  /** Moves the clock `ms` ahead. */
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}
