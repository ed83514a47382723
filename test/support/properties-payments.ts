// For test/properties-payments.test.ts: generators of payment inputs (unicode of every kind in the
// free-text fields, amounts, billNos by WeChat's rule), the same JSON value written as other bytes
// (key order, whitespace, escapes), one-byte changes of a body, the independent HMAC oracle, and
// a raw POST to the mock with chosen signatures.
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import type { MockWeChat } from '../../src/testing/index.js';

/**
 * Characters serialisers and signers treat specially: quotes, backslashes, separators, lone
 * surrogates, astral ones, and ones unicode normalisation changes (composed, decomposed, compatibility).
 */
const SPECIAL = ['"', '\\', '\u2028', '\u2029', '\u0000', '\u001f', '\u007f', '\ud800', '\udfff', '😀', '𝄞', '/', '</script>', '\\u0041', '&', '=', '%', '\r\n', '\ufeff', 'é', 'e\u0301', '\u212b', '\uf900', 'ﬁ', '\u1100\u1161'];

/** Any unicode text, the special characters above mixed in. */
export const wildText = fc
  .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 3 }), fc.constantFrom(...SPECIAL)), { maxLength: 8 })
  .map((parts) => parts.join(''));

const DIGITS_AND_LETTERS = [...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'];
/** WeChat's bill_no rule: 1 to 63 of [0-9A-Za-z_-], not starting with '_'. */
export const billNoArb = fc
  .tuple(fc.constantFrom(...DIGITS_AND_LETTERS, '-'), fc.string({ unit: fc.constantFrom(...DIGITS_AND_LETTERS, '-', '_'), maxLength: 62 }))
  .map(([first, rest]) => first + rest);

export const amountArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
export const ipArb = fc.oneof(fc.ipV4(), fc.ipV6());

export const payInputArb = fc.record(
  { amount: amountArb, billNo: billNoArb, zone: wildText, userIp: ipArb, payitem: wildText, remark: wildText },
  { requiredKeys: ['amount', 'billNo', 'zone', 'userIp'] },
);

/** lowercase hex HMAC-SHA256: the oracle, independent of the library's signer. */
export function hmac(key: string, ...parts: Array<string | Buffer>): string {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest('hex');
}

/** How to write the same JSON value as other bytes. */
export type Rewrite = { kind: 'order'; ranks: number[] } | { kind: 'indent'; indent: number | string } | { kind: 'pad'; ws: string } | { kind: 'escape' };

export const rewriteArb: fc.Arbitrary<Rewrite> = fc.oneof(
  fc.record({ kind: fc.constant('order' as const), ranks: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }) }),
  fc.record({ kind: fc.constant('indent' as const), indent: fc.constantFrom(1, 2, 4, '\t', ' ') }),
  fc.record({ kind: fc.constant('pad' as const), ws: fc.constantFrom(' ', '\n', '\t', '\r\n', ' \n') }),
  fc.constant({ kind: 'escape' as const }),
);

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * `body` (a JSON object of at least two keys) rewritten as `how` says: another key order (never
 * the same one), indented, padded with whitespace, or with characters written as \u escapes.
 */
export function rewrite(body: string, how: Rewrite): string {
  const value = JSON.parse(body) as Record<string, unknown>;
  switch (how.kind) {
    case 'order': {
      const entries = Object.entries(value);
      const order = entries.map((entry, i) => ({ entry, rank: how.ranks[i % how.ranks.length]!, i })).sort((a, b) => a.rank - b.rank || a.i - b.i);
      const moved = order.some((item, i) => item.i !== i) ? order.map((item) => item.entry) : entries.reverse();
      return JSON.stringify(Object.fromEntries(moved));
    }
    case 'indent':
      return JSON.stringify(value, null, how.indent);
    case 'pad':
      return `${how.ws}${body}${how.ws}`;
    case 'escape':
      // Every non-ASCII UTF-16 unit as \uXXXX, and the first key's first letter too, so something always changes.
      return body.replace(/[^\x20-\x7e]/g, escapeChar).replace(/^\{"(.)/, (_, c: string) => `{"${escapeChar(c)}`);
  }
}

/** A one-byte change: replace, insert or delete at a position (taken modulo the length). */
export type Mutation = { op: 'replace' | 'insert' | 'delete'; at: number; byte: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('replace' as const, 'insert' as const, 'delete' as const),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

export function mutate(body: Buffer, { op, at, byte }: Mutation): Buffer {
  if (op === 'insert') {
    const i = at % (body.length + 1);
    return Buffer.concat([body.subarray(0, i), Buffer.from([byte]), body.subarray(i)]);
  }
  const i = at % body.length;
  if (op === 'delete') return Buffer.concat([body.subarray(0, i), body.subarray(i + 1)]);
  const changed = Buffer.from(body);
  // Never the byte that is there already.
  changed[i] = (body[i]! + 1 + (byte % 255)) % 256;
  return changed;
}

/**
 * What the mock must answer a signed body whose bytes changed: 90010 (the signature no longer
 * matches) when it is still a JSON object naming a player the mock knows; before that, a body it
 * cannot read or an unknown openid is 90018.
 */
export function expectedForChanged(mock: MockWeChat, body: Buffer): number {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return 90018;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 90018;
  const { openid } = value as { openid?: unknown };
  return typeof openid === 'string' && openid !== '' && mock.sessionKeyOf(openid) !== undefined ? 90010 : 90018;
}

/** POSTs `body` to the mock's `path` with the given signatures and the current access token; WeChat's errcode. */
export async function postSigned(mock: MockWeChat, path: string, body: string | Buffer, sigs: { signature: string; paySig: string }): Promise<number> {
  const query = new URLSearchParams({ access_token: mock.currentAccessToken() ?? '', signature: sigs.signature, sig_method: 'hmac_sha256', pay_sig: sigs.paySig });
  const res = await fetch(`${mock.url}${path}?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : new Uint8Array(body) });
  const json = (await res.json()) as { errcode?: number };
  return json.errcode ?? 0;
}
