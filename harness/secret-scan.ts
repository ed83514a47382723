// Finding secrets in captured text: used by the suite's witness (test/support/witness.ts) and by the soak
// (soak/soak.ts). A secret is looked for as it is, JSON-escaped (`\/`, `\u00xx`) and URL-encoded
// (`%2B`, `%2F`, `%3D`). Secrets are base64, base64url, hex or our own signing secrets, so only
// runs of those characters can hold one: each run is checked by a set look-up of each of its
// windows of a secret's length, which stays fast with thousands of secrets and megabytes of text.
// A secret with other characters in it is looked for with indexOf.

/** Characters a secret is made of; runs of them are searched. */
const RUN = /[A-Za-z0-9+/=_\-.~]{8,}/g;

export interface SecretHit<K extends string = string> {
  kind: K;
  where: string;
  /** The text around the secret, with the secret itself replaced by «secret». */
  context: string;
}

/** `%2B` -> `+`, `\/` -> `/`, `\u002b` -> `+`: the forms a secret takes in JSON or a URL. */
function normalise(text: string): string {
  return text
    .replace(/\\\//g, '/')
    .replace(/\\u00([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/%(2B|2F|3D|7E)/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export class SecretScanner<K extends string = string> {
  readonly #secrets = new Map<string, K>();
  /** Secrets with a character outside RUN (or very short), found with indexOf. */
  readonly #odd = new Set<string>();
  readonly #lengths = new Set<number>();

  /** Registers a secret; values that are not strings of 8 or more characters are ignored. */
  add(value: unknown, kind: K): void {
    if (typeof value !== 'string' || value.length < 8 || this.#secrets.has(value)) return;
    this.#secrets.set(value, kind);
    if (value.replace(RUN, '') !== '') this.#odd.add(value);
    else this.#lengths.add(value.length);
  }

  /** How many secrets are registered. */
  get size(): number {
    return this.#secrets.size;
  }

  /** How many secrets of each kind are registered. */
  counts(): Map<K, number> {
    const counts = new Map<K, number>();
    for (const kind of this.#secrets.values()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    return counts;
  }

  /** Every occurrence of a registered secret in `text`. */
  find(text: string, where = 'text'): Array<SecretHit<K>> {
    const hits: Array<SecretHit<K>> = [];
    const haystack = normalise(text);
    const report = (secret: string, at: number) => {
      const context = haystack.slice(Math.max(0, at - 60), at + secret.length + 60).split(secret).join('«secret»');
      hits.push({ kind: this.#secrets.get(secret)!, where, context });
    };
    for (const match of haystack.matchAll(RUN)) {
      const run = match[0];
      for (const length of this.#lengths) {
        for (let i = 0; i + length <= run.length; i++) {
          const candidate = run.slice(i, i + length);
          if (this.#secrets.has(candidate)) report(candidate, match.index! + i);
        }
      }
    }
    for (const secret of this.#odd) {
      const at = haystack.indexOf(secret);
      if (at >= 0) report(secret, at);
    }
    return hits;
  }
}
