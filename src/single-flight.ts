// One request in flight per key: a caller asking for a key already in flight shares that
// promise; once it settles the key is free again, so the next caller starts a new one.
export class SingleFlight<K, V> {
  readonly #flights = new Map<K, Promise<V>>();

  /** The flight under way for `key`, if any. */
  current(key: K): Promise<V> | undefined {
    return this.#flights.get(key);
  }

  /** Joins the flight for `key`, or starts one with `start`. */
  run(key: K, start: () => Promise<V>): Promise<V> {
    const running = this.#flights.get(key);
    if (running) return running;
    const flight = start();
    this.#flights.set(key, flight);
    const done = () => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    flight.then(done, done);
    return flight;
  }
}
