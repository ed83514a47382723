/**
 * The mock's Douyin (ByteDance) mini-game dialect (docs/platforms.md), served by a mock started
 * with `platform: 'douyin'`, under `/mgplatform/api/apps/`:
 *
 * - `GET jscode2session` — `code` and/or `anonymous_code` (`code` wins when both come); answers
 *   flat: `{error: 0, openid, session_key, unionid?}` or `{error: 0, anonymous_openid, session_key}`;
 *   errors `{error: 1, errcode, errmsg, message}`: 40015 appid, 40017 secret, 40018 code, 40019
 *   anonymous code.
 * - `POST v2/token`, `POST stable_token` — `{err_no: 0, err_tips|err_msg: 'success', log_id,
 *   data: {access_token, expires_in}}`; errors 40015, 40017, 40020 grant_type.
 * - `GET check_session_key` — `{err_no: 0, err_msg: 'success', log_id}`; 28001003 access_token,
 *   28001004 openid, 28001038 sig_method, 28001039 signature (a stale key).
 * - `POST set_user_storage`, `remove_user_storage` — signed over the exact body; flat answers:
 *   40009 key over 128 bytes, 40010 key + value over 1024 bytes, 60001 over 128 pairs.
 *
 * Where Douyin's documentation is silent, the mock's choices are marked "(the mock's choice)".
 * @module
 */
import { randomBytes } from 'node:crypto';
import { removeKv, setKv } from './mock-kit.js';
import type { KitAnswer, KitRequest, KitRoute, KitUser, PlatformKit } from './mock-kit.js';

const BASE = '/mgplatform/api/apps';

/** A v2/token call cuts the previous token to 5 minutes. */
const V2_TOKEN_GRACE_MS = 5 * 60_000;
/** stable_token's force mode: 20 a day (no interval documented). */
const FORCE_LIMITS = { intervalMs: 0, perDay: 20 };
/** Over the force_refresh limit: WeChat's number for a daily quota (the mock's choice). */
const FORCE_LIMIT_ERRNO = 45009;

const ERRMSG: Readonly<Record<number, string>> = {
  [-1]: 'system error',
  40001: 'bad params', // the mock's choice, for a body it cannot read
  40002: 'nil access_token',
  40009: 'key too long',
  40010: 'kv too long',
  40015: 'bad appid',
  40017: 'bad secret',
  40018: 'bad code',
  40019: 'bad anonymous code',
  40020: 'bad grant_type',
  45009: 'force_refresh reached its daily limit',
  60001: 'too many kv',
  28001003: 'access_token is invalid',
  28001004: 'openid is invalid',
  28001038: 'sig_method is invalid',
  28001039: 'signature is invalid',
};

const text = (code: number): string => ERRMSG[code] ?? `mock errcode ${code}`;

/** A log_id as Douyin writes one: a UTC timestamp and 20 upper-case hex digits. */
function logId(at: number): string {
  return new Date(at).toISOString().replace(/\D/g, '').slice(0, 14) + randomBytes(10).toString('hex').toUpperCase();
}

/** The older, flat dialect (jscode2session, user storage). */
function flat(errcode: number, errmsg = text(errcode)): KitAnswer {
  if (errcode === 0) return { status: 200, json: { error: 0 } };
  return { status: 200, json: { error: 1, errcode, errmsg, message: errmsg } };
}

/** The newer dialect; `field` is where the text goes (`err_tips` on v2/token, `err_msg` elsewhere). */
function errNoDialect(kit: PlatformKit, field: 'err_tips' | 'err_msg') {
  return (errNo: number, errmsg = errNo === 0 ? 'success' : text(errNo)): KitAnswer => ({
    status: 200,
    json: { err_no: errNo, [field]: errmsg, log_id: logId(kit.now()) },
  });
}

export function douyinApis(kit: PlatformKit): [string, KitRoute][] {
  const { param } = kit;
  const tips = errNoDialect(kit, 'err_tips');
  const msg = errNoDialect(kit, 'err_msg');

  function code2Session({ query }: KitRequest): KitAnswer {
    if (param(query, 'appid') !== kit.appId) return flat(40015);
    if (!kit.secretMatches(param(query, 'secret'))) return flat(40017);
    const code = param(query, 'code') || undefined;
    const anonymousCode = param(query, 'anonymous_code') || undefined;
    // With both, `code` wins (docs/platforms.md, "Douyin guests"): the anonymous code is neither
    // read nor spent.
    if (code !== undefined || anonymousCode === undefined) {
      const redeemed = kit.redeemCode(code ?? '', false);
      if (!redeemed.ok) return flat(redeemed.reason === 'forced' ? redeemed.errcode : 40018);
      const json: Record<string, unknown> = { error: 0, openid: redeemed.openid, session_key: redeemed.user.sessionKey };
      if (redeemed.user.unionid !== undefined) json.unionid = redeemed.user.unionid;
      return { status: 200, json };
    }
    const redeemed = kit.redeemCode(anonymousCode, true);
    if (!redeemed.ok) return flat(redeemed.reason === 'forced' ? redeemed.errcode : 40019);
    return { status: 200, json: { error: 0, anonymous_openid: redeemed.openid, session_key: redeemed.user.sessionKey } };
  }

  /** appid, secret, grant_type of a token request's JSON body; an unreadable body has none of them. */
  function tokenRequest(body: Buffer, answer: typeof tips): { force: boolean } | KitAnswer {
    const json = kit.parseJsonObject(body) ?? {};
    if (json.appid !== kit.appId) return answer(40015);
    if (!kit.secretMatches(json.secret)) return answer(40017);
    if (json.grant_type !== 'client_credential') return answer(40020);
    return { force: json.force_refresh === true };
  }

  function v2Token({ body }: KitRequest): KitAnswer {
    const request = tokenRequest(body, tips);
    if ('status' in request) return request;
    const issued = kit.classicToken(V2_TOKEN_GRACE_MS);
    return { status: 200, json: { ...tips(0).json, data: issued } };
  }

  function stableToken({ body }: KitRequest): KitAnswer {
    const request = tokenRequest(body, msg);
    if ('status' in request) return request;
    const issued = kit.stableToken(request.force, FORCE_LIMITS);
    if (!issued) return msg(FORCE_LIMIT_ERRNO);
    return { status: 200, json: { ...msg(0).json, data: issued } };
  }

  function checkSessionKey({ query }: KitRequest): KitAnswer {
    if (kit.tokenState(param(query, 'access_token')) !== 0) return msg(28001003);
    const user = kit.player(param(query, 'openid') ?? '');
    if (!user) return msg(28001004);
    if (param(query, 'sig_method') !== 'hmac_sha256') return msg(28001038);
    // ⚠ What this GET signs is not documented (docs/platforms.md). The mock reads it as WeChat's
    // checksession does: hex(hmac_sha256(key = session_key, message = '')), the empty body.
    if (!kit.sameText(param(query, 'signature') ?? '', kit.hmacHex(user.sessionKey, ''))) return msg(28001039);
    return msg(0);
  }

  /**
   * The checks of the signed storage calls, answered flat. Only a missing token has a documented
   * answer (40002 'nil access_token'); the others reuse check_session_key's numbers (the mock's
   * choice), so a stale key reads 28001039 on every Douyin path.
   */
  function signedCall({ query, body }: KitRequest): { user: KitUser } | KitAnswer {
    const state = kit.tokenState(param(query, 'access_token'));
    if (state === 41001) return flat(40002);
    if (state !== 0) return flat(28001003);
    const user = kit.player(param(query, 'openid') ?? '');
    if (!user) return flat(28001004);
    if (param(query, 'sig_method') !== 'hmac_sha256') return flat(28001038);
    if (!kit.sameText(param(query, 'signature') ?? '', kit.hmacHex(user.sessionKey, body))) return flat(28001039);
    return { user };
  }

  const STORAGE_ERRCODES = { format: 40001, emptyKey: 40001, keyTooLong: 40009, pairTooLong: 40010, tooMany: 60001 } as const;

  function setUserStorage(ctx: KitRequest): KitAnswer {
    const checked = signedCall(ctx);
    if ('status' in checked) return checked;
    const problem = setKv(checked.user.storage, ctx.body);
    return flat(problem ? STORAGE_ERRCODES[problem] : 0);
  }

  function removeUserStorage(ctx: KitRequest): KitAnswer {
    const checked = signedCall(ctx);
    if ('status' in checked) return checked;
    return flat(removeKv(checked.user.storage, ctx.body) ? 40001 : 0);
  }

  return [
    [`${BASE}/jscode2session`, { method: 'GET', handle: code2Session, dialect: flat }],
    [`${BASE}/v2/token`, { method: 'POST', handle: v2Token, dialect: tips }],
    [`${BASE}/stable_token`, { method: 'POST', handle: stableToken, dialect: msg }],
    [`${BASE}/check_session_key`, { method: 'GET', handle: checkSessionKey, dialect: msg }],
    [`${BASE}/set_user_storage`, { method: 'POST', handle: setUserStorage, dialect: flat }],
    [`${BASE}/remove_user_storage`, { method: 'POST', handle: removeUserStorage, dialect: flat }],
  ];
}
