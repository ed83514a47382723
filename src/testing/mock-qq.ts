/**
 * The mock's QQ mini-game dialect (docs/platforms.md), served by a mock started with
 * `platform: 'qq'`. QQ answers in WeChat's `{errcode, errmsg}` table:
 *
 * - `GET /sns/jscode2session` — `{openid, session_key, unionid?}`; 40013 appid, 40125 secret
 *   (WeChat's number: QQ lists none for it), 40002 grant_type, 40029 bad, used or expired code.
 * - `GET /api/getToken` — `{access_token, expires_in}`; 40013 appid, 40001 secret, 40002
 *   grant_type. A new token kills the previous one at once ("re-fetch invalidates the previous
 *   token": no grace is documented, so the mock gives none).
 * - `POST /api/openDataContext/set_user_storage`, `remove_user_storage` — WeChat's signature
 *   (`hex(hmac_sha256(session_key, exact body))`) and WeChat's answers (87009 signature...).
 *
 * QQ has no server checkSessionKey; its paths, like WeChat's other APIs, answer 404 here.
 * @module
 */
import type { KitAnswer, KitRequest, KitRoute, PlatformKit } from './mock-kit.js';

/** WeChat's handlers of the signed storage calls, which QQ's answer alike. */
export interface QqStorageHandlers {
  setUserStorage(ctx: KitRequest): KitAnswer;
  removeUserStorage(ctx: KitRequest): KitAnswer;
}

export function qqApis(kit: PlatformKit, storage: QqStorageHandlers): [string, KitRoute][] {
  const { param, errAnswer } = kit;

  function code2Session({ query }: KitRequest): KitAnswer {
    if (param(query, 'appid') !== kit.appId) return errAnswer(40013);
    if (!kit.secretMatches(param(query, 'secret'))) return errAnswer(40125);
    if (param(query, 'grant_type') !== 'authorization_code') return errAnswer(40002);
    const redeemed = kit.redeemCode(param(query, 'js_code') ?? '', false);
    if (!redeemed.ok) return errAnswer(redeemed.reason === 'forced' ? redeemed.errcode : 40029);
    const json: Record<string, unknown> = { openid: redeemed.openid, session_key: redeemed.user.sessionKey };
    if (redeemed.user.unionid !== undefined) json.unionid = redeemed.user.unionid;
    return { status: 200, json };
  }

  function getToken({ query }: KitRequest): KitAnswer {
    if (param(query, 'appid') !== kit.appId) return errAnswer(40013);
    if (!kit.secretMatches(param(query, 'secret'))) return errAnswer(40001); // WeChat's text for 40001: "invalid credential"
    if (param(query, 'grant_type') !== 'client_credential') return errAnswer(40002);
    return { status: 200, json: { ...kit.classicToken(0) } };
  }

  return [
    ['/sns/jscode2session', { method: 'GET', handle: code2Session }],
    ['/api/getToken', { method: 'GET', handle: getToken }],
    ['/api/openDataContext/set_user_storage', { method: 'POST', handle: storage.setUserStorage }],
    ['/api/openDataContext/remove_user_storage', { method: 'POST', handle: storage.removeUserStorage }],
  ];
}
