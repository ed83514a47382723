// What the property tests may be answered (the error table, README.md, "Errors"; the token shape,
// SECURITY.md, "A forged token"): the outcomes a request can have, the check that an answer is one
// of them, and what holds for every answer.
import { expect } from 'chai';
import { ErrorCode, errorStatus } from '../../src/index.js';
import { INVALID_REQUEST, INVALID_TOKEN, expectErrorBody } from './wire.js';
import { HANG_MS, type Answer } from './properties-http.js';

/** The error table (README.md, "Errors"), from the package's exports. */
export const TABLE: ReadonlyMap<string, number> = new Map(Object.values(ErrorCode).map((code) => [code, errorStatus[code]]));
/** The token alphabet; longer than 512 or without a '.' is malformed too. */
export const TOKEN_SHAPE = /^[A-Za-z0-9._~+/=-]+$/;
export const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/=-';
/** The default session lifetime, seconds. */
export const TTL_S = 7 * 24 * 3600;
/** The login body limit wx-session reads itself. */
export const LIMIT = 8 * 1024;

/** A string with every byte outside printable ASCII escaped, for messages. */
export const show = (s: string) => `"${s.replace(/[^\x20-\x7e]|["\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}"`;

export type Outcome =
  /** A table error: the table's status, `{code, message, errcode?}`, and on 401 this challenge. */
  | { kind: 'error'; code: ErrorCode; challenge?: string; errcode?: number }
  /** GET /whoami without a session: 200 and the reason. */
  | { kind: 'whoami'; error: ErrorCode }
  /** 204, nothing else (logout). */
  | { kind: 'empty' }
  /** Not a wx-session route: the framework's own answer with this status. */
  | { kind: 'status'; status: number }
  /** The app's own body parser refused the body before wx-session saw it. */
  | { kind: 'parser' }
  /** A login that worked. */
  | { kind: 'login'; openid: string; userInfo?: unknown };

export function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'error': return `${errorStatus[o.code]} ${o.code}${o.errcode === undefined ? '' : ` errcode ${o.errcode}`}${o.challenge ? ` [${o.challenge}]` : ''}`;
    case 'whoami': return `200 whoami error=${o.error}`;
    case 'empty': return '204';
    case 'status': return `${o.status} (framework)`;
    case 'parser': return '400/415 from the body parser';
    case 'login': return `200 login openid=${o.openid}${o.userInfo === undefined ? '' : ' +userInfo'}`;
  }
}

export function isTableError(json: unknown): boolean {
  return typeof json === 'object' && json !== null && TABLE.has((json as { code?: unknown }).code as string);
}

export function statusOf(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'error': return errorStatus[outcome.code];
    case 'whoami': case 'login': return 200;
    case 'empty': return 204;
    case 'status': return outcome.status;
    case 'parser': return 400;
  }
}

/** Why `answer` is not `outcome`, or undefined when it is. */
function mismatch(answer: Answer, outcome: Outcome): string | undefined {
  try {
    switch (outcome.kind) {
      case 'error':
        expect(answer.status, 'status').to.equal(errorStatus[outcome.code]);
        expectErrorBody(answer.json, outcome.code, outcome.errcode);
        if (answer.status === 401 && answer.headers['www-authenticate'] !== outcome.challenge) {
          return `WWW-Authenticate ${answer.headers['www-authenticate']}, expected ${outcome.challenge}`;
        }
        return undefined;
      case 'whoami':
        expect(answer.status, 'status').to.equal(200);
        expect(answer.json).to.deep.equal({ session: false, openid: null, error: outcome.error });
        expect(answer.headers, 'no challenge on an optional route').to.not.have.property('www-authenticate');
        return undefined;
      case 'empty':
        expect(answer.status, 'status').to.equal(204);
        expect(answer.text).to.equal('');
        return undefined;
      case 'status':
        expect(answer.status, 'status').to.equal(outcome.status);
        return undefined;
      case 'parser':
        expect(answer.status, 'status').to.be.oneOf([400, 415]);
        expect(isTableError(answer.json), 'a parser error, not one of ours').to.equal(false);
        return undefined;
      case 'login': {
        expect(answer.status, 'status').to.equal(200);
        const body = answer.json as Record<string, unknown>;
        const keys = ['expiresIn', 'openid', 'token', ...(outcome.userInfo === undefined ? [] : ['userInfo'])];
        expect(Object.keys(body).sort()).to.deep.equal(keys.sort());
        expect(body.openid).to.equal(outcome.openid);
        expect(body.expiresIn).to.equal(TTL_S);
        expect(body.token).to.be.a('string').and.match(TOKEN_SHAPE);
        expect((body.token as string).length).to.be.at.most(512);
        if (outcome.userInfo !== undefined) expect(body.userInfo).to.deep.equal(outcome.userInfo);
        return undefined;
      }
    }
  } catch (error) {
    return (error as Error).message;
  }
}

/** Asserts `answer` is one of `outcomes`, naming them all when it is none. */
export function expectOneOf(answer: Answer, outcomes: Outcome[], what: string): Outcome {
  const reasons: string[] = [];
  for (const outcome of outcomes) {
    const why = mismatch(answer, outcome);
    if (why === undefined) return outcome;
    reasons.push(`  ${describeOutcome(outcome)}: ${why}`);
  }
  throw new Error(`${what}: answered ${answer.status} ${answer.text.slice(0, 300)}\nexpected one of:\n${reasons.join('\n')}`);
}

/** What holds for every answer, whatever was asked: no 5xx, no hang, table statuses, no session handed out. */
export function expectSafe(answer: Answer, what: string): void {
  expect(answer.status, `${what}: answered at all`).to.not.equal(0);
  expect(answer.ms, `${what}: answered within ${HANG_MS} ms`).to.be.below(HANG_MS);
  expect(answer.status, `${what}: no 5xx (WeChat and the store are healthy here)`).to.be.below(500);
  if (isTableError(answer.json)) {
    const code = (answer.json as { code: string }).code;
    expect(answer.status, `${what}: ${code} with the table's status`).to.equal(TABLE.get(code));
    if (answer.status === 401) expect(answer.headers['www-authenticate'], `${what}: 401 carries a challenge`).to.be.oneOf([INVALID_REQUEST, INVALID_TOKEN]);
  }
  expect(answer.headers, `${what}: no token re-issued`).to.not.have.property('x-wx-session-token');
}
