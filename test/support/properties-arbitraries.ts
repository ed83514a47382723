// The property tests' generators (fast-check arbitraries): header characters, tokens dead, forged
// and mutated, Authorization values, codes, content types, bodies of every shape, whole requests,
// and the login cases.
import fc from 'fast-check';
import { SECRET } from '../../harness/apps.js';
import { forgeToken } from './wire.js';
import { utf8, type Req } from './properties-http.js';
import { KNOWN_PATHS } from './properties-oracle.js';
import { LIMIT, TOKEN_CHARS } from './properties-outcomes.js';

const OTHER_SECRET = 'someone-elses-secret-0123456789abcdef';

// ---- characters

export const tokenChar = fc.constantFrom(...TOKEN_CHARS);
const asciiPrintable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
export const latin1Printable = fc.oneof(asciiPrintable, fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)));
/** Characters around which trimming and splitting go wrong. */
export const edgyChar = fc.constantFrom(' ', '\t', '\xa0', '\x85', '.', ',', ';', '"', '=', '%', '\xff');
/** Any byte fetch can put in a header value (no NUL, CR, LF, or other control bytes Node refuses). */
export const headerChar = fc.oneof({ weight: 4, arbitrary: latin1Printable }, edgyChar, fc.integer({ min: 0x80, max: 0x9f }).map((c) => String.fromCharCode(c)));
/** Any byte but CR and LF: control bytes too, which Node itself refuses with 400. */
export const rawHeaderChar = fc.oneof({ weight: 6, arbitrary: headerChar }, fc.integer({ min: 0, max: 0x1f }).filter((c) => c !== 10 && c !== 13).map((c) => String.fromCharCode(c)), fc.constant('\x7f'));
/** A unicode string as the UTF-8 bytes a raw header carries (one char per byte). */
export const utf8Bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

// ---- header values

/** Tokens of every kind: any characters, the alphabet, forged (under our secret or another), the dead ones changed, cut or padded. */
function tokenArb(dead: readonly string[], char: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const alphabet = fc.string({ unit: tokenChar, maxLength: 80 });
  const deadToken = fc.constantFrom(...dead);
  return fc.oneof(
    fc.string({ unit: char, maxLength: 100 }),
    alphabet,
    fc.tuple(alphabet, alphabet).map(([a, b]) => `${a}.${b}`),
    fc.string({ unit: tokenChar, minLength: 505, maxLength: 600 }).map((s) => `${s.slice(0, 300)}.${s.slice(300)}`),
    fc.string({ unit: tokenChar, maxLength: 500 }).map((id) => forgeToken(id, SECRET)),
    fc.string({ unit: char, maxLength: 60 }).map((id) => forgeToken(id, SECRET)),
    fc.string({ unit: tokenChar, maxLength: 60 }).map((id) => forgeToken(id, OTHER_SECRET)),
    deadToken,
    fc.tuple(deadToken, fc.nat(), fc.oneof(tokenChar, char)).map(([t, at, c]) => t.slice(0, at % t.length) + c + t.slice((at % t.length) + 1)),
    fc.tuple(deadToken, fc.nat(), fc.nat()).map(([t, a, b]) => t.slice(a % t.length, t.length - (b % t.length))),
    fc.tuple(fc.string({ unit: char, maxLength: 3 }), deadToken, fc.string({ unit: char, maxLength: 3 })).map(([a, t, b]) => a + t + b),
  );
}

function authArb(token: fc.Arbitrary<string>, char: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    token.map((t) => `Bearer ${t}`),
    fc.tuple(fc.constantFrom('Bearer', 'bearer', 'BEARER', 'BeArEr'), fc.string({ unit: fc.constantFrom(' ', '\t'), minLength: 1, maxLength: 3 }), token).map(([s, sep, t]) => s + sep + t),
    token.map((t) => `Basic ${t}`),
    token,
    fc.string({ unit: char, maxLength: 60 }),
    fc.constantFrom('Bearer', 'Bearer ', 'bearer\t', ''),
  );
}

/** Codes that can never be a valid one (the mock's are 32 fresh alphanumerics). */
function codeArb(char: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: char, maxLength: 40 }),
    fc.stringMatching(/^[A-Za-z0-9]{32}$/),
    fc.string({ unit: fc.constantFrom('c', 'é', '\xa0'), minLength: 250, maxLength: 262 }),
    fc.constant(''),
  );
}

// ---- bodies and whole requests

export const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=latin1'];
const contentTypeArb = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...CONTENT_TYPES) }, fc.string({ unit: asciiPrintable, maxLength: 30 }));

/** A login body padded inside the JSON to exactly `bytes` bytes. */
const paddedBody = (bytes: number) => {
  const head = '{"code":"x","pad":"';
  return `${head}${'p'.repeat(Math.max(0, bytes - head.length - 2))}"}`;
};

/** Bodies of every shape: any JSON, any text, any bytes, objects with `code` of every JSON type, big ones. */
export const anyBody: fc.Arbitrary<Uint8Array | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.json().map(utf8),
  fc.uint8Array({ maxLength: 200 }),
  fc.record({ code: fc.jsonValue() }, { requiredKeys: [] }).map((o) => utf8(JSON.stringify(o))),
  fc.tuple(fc.record({ code: fc.jsonValue(), encryptedData: fc.jsonValue(), iv: fc.jsonValue() }, { requiredKeys: [] }), fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 })).map(([o, extra]) => utf8(JSON.stringify({ ...extra, ...o }))),
  fc.string({ unit: 'binary', maxLength: 60 }).map(utf8),
  fc.constantFrom('', ' \n\t', '\xa0', '\ufeff', '\ufeff{"code":"x"}', 'null', '[]', '"x"', '{"code":', '{"__proto__":{"code":"x"}}').map(utf8),
  fc.constantFrom(LIMIT, LIMIT + 1).map((n) => utf8(paddedBody(n))),
  fc.integer({ min: LIMIT - 200, max: LIMIT + 4000 }).map((n) => utf8(paddedBody(n))),
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

export function requestArb(dead: readonly string[], char: fc.Arbitrary<string>): fc.Arbitrary<Req> {
  const token = tokenArb(dead, char);
  const path = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KNOWN_PATHS) }, fc.webSegment().map((s) => `/r/${s}`));
  const query = fc.oneof({ weight: 3, arbitrary: fc.constant('') }, fc.webQueryParameters().map((q) => `?${q}`), token.map((t) => `?token=${encodeURIComponent(t)}`));
  const method = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('GET', 'POST') }, fc.constantFrom(...METHODS));
  return fc
    .record({
      method,
      path,
      query,
      session: fc.option(token, { nil: undefined }),
      auth: fc.option(authArb(token, char), { nil: undefined }),
      code: fc.option(codeArb(char), { nil: undefined }),
      contentType: fc.option(contentTypeArb, { nil: undefined }),
      body: anyBody,
    })
    .map(({ method, path, query, session, auth, code, contentType, body }) => {
      const headers: Record<string, string> = {};
      if (session !== undefined) headers['X-WX-Session'] = session;
      if (auth !== undefined) headers.Authorization = auth;
      if (code !== undefined) headers['X-WX-Code'] = code;
      if (contentType !== undefined) headers['Content-Type'] = contentType;
      const req: Req = { method, target: path + query, headers };
      // fetch sends no body with GET or HEAD.
      if (body !== undefined && method !== 'GET' && method !== 'HEAD') req.body = body;
      return req;
    });
}

// ---- login cases

type Json = fc.JsonValue;
export interface LoginCase {
  /** Where the case's valid code goes: in the body's `code`, in X-WX-Code, both, or nowhere. */
  codeIn: 'body' | 'header' | 'both' | 'none';
  body:
    | { kind: 'none' }
    | { kind: 'object'; extra: Record<string, Json>; code?: Json; userData: 'none' | 'valid' | { encryptedData?: Json; iv?: Json }; pad: number; indent: number }
    | { kind: 'json'; value: Json }
    | { kind: 'text'; text: string }
    | { kind: 'bytes'; bytes: Uint8Array };
  /** A random X-WX-Code where the valid one is not in the header. */
  headerCode?: string;
  contentType?: string;
}

const extraFields = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((extra) => {
  const clean: Record<string, Json> = {};
  for (const [key, value] of Object.entries(extra)) if (key !== 'code' && key !== 'encryptedData' && key !== 'iv') clean[key] = value;
  return clean;
});
const pairShape = fc.record({ encryptedData: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.base64String({ maxLength: 64 })), iv: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.base64String({ maxLength: 24 })) }, { requiredKeys: [] });

export const loginCaseArb: fc.Arbitrary<LoginCase> = fc.record(
  {
    codeIn: fc.constantFrom<LoginCase['codeIn']>('body', 'body', 'header', 'both', 'none'),
    body: fc.oneof(
      { weight: 5, arbitrary: fc.record({
        kind: fc.constant('object' as const),
        extra: extraFields,
        code: fc.oneof(fc.jsonValue({ maxDepth: 1 }), codeArb(latin1Printable)),
        userData: fc.oneof({ weight: 3, arbitrary: fc.constant('none' as const) }, fc.constant('valid' as const), pairShape),
        pad: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.integer({ min: LIMIT - 300, max: LIMIT + 300 })),
        indent: fc.constantFrom(0, 0, 2, 7),
      }, { requiredKeys: ['kind', 'extra', 'userData', 'pad', 'indent'] }) },
      fc.constant({ kind: 'none' as const }),
      fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'json' as const, value })),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('', '  ', '\n', '\xa0', '\ufeff', 'null', '{', '{"code":1,}')).map((text) => ({ kind: 'text' as const, text })),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
    ),
    headerCode: codeArb(latin1Printable),
    contentType: contentTypeArb,
  },
  { requiredKeys: ['codeIn', 'body'] },
);
