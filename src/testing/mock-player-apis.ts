/**
 * The mock WeChat's player APIs that need the session_key or an access token only:
 * resetusersessionkey, getuserphonenumber, getuserriskrank and checkencryptedmsg
 * (docs/session-key.md).
 * Wired into the router of mock-wechat.ts, which lends its state and helpers through {@link MockKit}.
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KitAnswer, KitRequest, KitRoute, MockKit } from './mock-kit.js';

export type { KitAnswer, KitRequest, KitRoute, MockKit };

/** Options of {@link MockWeChat.issuePhoneCode}. */
export interface MockPhoneOptions {
  /** Default: `'13800138000'`. */
  phoneNumber?: string;
  /** Default: `'86'`. */
  countryCode?: string;
}

const PHONE_CODE_TTL_MS = 300_000;

interface PhoneCode {
  openid: string;
  phoneNumber: string;
  countryCode: string;
  issuedAt: number;
  used: boolean;
}

function nonEmpty(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`wx-session/testing: ${what} must be a non-empty string`);
  return value;
}

export function playerApis(kit: MockKit) {
  const phoneCodes = new Map<string, PhoneCode>();
  const riskRanks = new Map<string, number>();
  const encrypted = new Map<string, number>();

  function resetKey({ query }: KitRequest): KitAnswer {
    const denied = kit.checkAccessToken(query);
    if (denied) return denied;
    const openid = query.openid ?? '';
    const key = openid ? kit.keyOf(openid) : undefined;
    if (key === undefined) return kit.errAnswer(40003);
    if (query.sig_method !== 'hmac_sha256') return kit.errAnswer(87008);
    // The signature proves the caller holds the player's current key (GET: the message is '').
    if (!kit.sameText(query.signature ?? '', kit.hmacHex(key, ''))) return kit.errAnswer(87009);
    return { status: 200, json: { errcode: 0, errmsg: 'ok', openid, session_key: kit.rotate(openid) } };
  }

  function phoneNumber({ query, body }: KitRequest): KitAnswer {
    const denied = kit.checkAccessToken(query);
    if (denied) return denied;
    const json = kit.parseJsonObject(body);
    if (!json) return kit.errAnswer(47001);
    if (typeof json.code !== 'string' || json.code === '') return kit.errAnswer(40029);
    const record = phoneCodes.get(json.code);
    if (!record || record.used || kit.now() - record.issuedAt >= PHONE_CODE_TTL_MS) return kit.errAnswer(40029);
    // "if given, the openid–code binding is checked"
    if (json.openid !== undefined && json.openid !== record.openid) return kit.errAnswer(40029);
    record.used = true;
    const { phoneNumber: full, countryCode } = record;
    const pure = full.startsWith('+') ? full.slice(1 + countryCode.length) : full;
    return {
      status: 200,
      json: {
        errcode: 0,
        errmsg: 'ok',
        phone_info: { phoneNumber: full, purePhoneNumber: pure, countryCode, watermark: { timestamp: Math.floor(kit.now() / 1000), appid: kit.appId } },
      },
    };
  }

  function riskRank({ query, body }: KitRequest): KitAnswer {
    const denied = kit.checkAccessToken(query);
    if (denied) return denied;
    const json = kit.parseJsonObject(body);
    if (!json) return kit.errAnswer(47001);
    if (json.appid !== kit.appId) return kit.errAnswer(40013);
    if (typeof json.openid !== 'string' || kit.keyOf(json.openid) === undefined) return kit.errAnswer(61010);
    if (typeof json.scene !== 'number' || typeof json.client_ip !== 'string' || json.client_ip === '') return kit.errAnswer(40097);
    return { status: 200, json: { errcode: 0, errmsg: 'getuserriskrank succ', risk_rank: riskRanks.get(json.openid) ?? 0, unoin_id: 0 } };
  }

  function checkEncrypted({ query, body }: KitRequest): KitAnswer {
    const denied = kit.checkAccessToken(query);
    if (denied) return denied;
    if (body.length === 0) return kit.errAnswer(44002);
    const json = kit.parseJsonObject(body);
    if (!json) return kit.errAnswer(47001);
    if (typeof json.encrypted_msg_hash !== 'string' || json.encrypted_msg_hash === '') return kit.errAnswer(40097);
    const created = encrypted.get(json.encrypted_msg_hash.toLowerCase());
    // `vaild` (sic) is WeChat's spelling.
    return { status: 200, json: { errcode: 0, errmsg: 'ok', vaild: created !== undefined, create_time: created ?? 0 } };
  }

  const routes: [string, KitRoute][] = [
    ['/wxa/resetusersessionkey', { method: 'GET', handle: resetKey }],
    ['/wxa/business/getuserphonenumber', { method: 'POST', handle: phoneNumber }],
    ['/wxa/getuserriskrank', { method: 'POST', handle: riskRank }],
    ['/wxa/business/checkencryptedmsg', { method: 'POST', handle: checkEncrypted }],
  ];

  const api = {
    issuePhoneCode(openid: string, opts: MockPhoneOptions = {}): string {
      nonEmpty(openid, 'openid');
      const countryCode = opts.countryCode === undefined ? '86' : nonEmpty(opts.countryCode, 'countryCode');
      const pure = opts.phoneNumber === undefined ? '13800138000' : nonEmpty(opts.phoneNumber, 'phoneNumber');
      // WeChat's phoneNumber carries the country code for numbers outside mainland China.
      const full = countryCode === '86' ? pure : `+${countryCode}${pure}`;
      const code = randomBytes(32).toString('hex');
      phoneCodes.set(code, { openid, phoneNumber: full, countryCode, issuedAt: kit.now(), used: false });
      return code;
    },
    setRiskRank(openid: string, rank: number): void {
      nonEmpty(openid, 'openid');
      if (!Number.isInteger(rank) || rank < 0 || rank > 4) throw new TypeError('wx-session/testing: risk rank must be an integer 0..4');
      riskRanks.set(openid, rank);
    },
    registerEncryptedData(encryptedData: string): number {
      nonEmpty(encryptedData, 'encryptedData');
      const hash = createHash('sha256').update(encryptedData, 'utf8').digest('hex');
      const created = Math.floor(kit.now() / 1000);
      encrypted.set(hash, created);
      return created;
    },
  };
  return { routes, api };
}
