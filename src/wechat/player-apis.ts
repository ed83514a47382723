// The session_key's further WeChat calls that are not payments (docs/session-key.md, "Key reset,
// phone number, risk rank, encrypted data"): resetusersessionkey, getuserphonenumber,
// getuserriskrank and checkencryptedmsg. Inputs are checked here, before any call
// (WX_BAD_REQUEST); each call goes through the shared access token (40001/42001: renewed once and
// retried) and, except the key reset, the -1 retry of api.ts (retryBusy).
import { createHash } from 'node:crypto';
import { signPayload } from '../crypto.js';
import { nonEmpty, WxSessionError } from '../errors.js';
import { retryBusy, type WeChatApi } from './api.js';
import { errcodeError } from './errcodes.js';
import { sourceOf, type WeChatAnswer, type WeChatRequest } from './http.js';

/** A phone number as getuserphonenumber answers it; `countryCode` is always a string. */
export interface PhoneNumber {
  /** With the country code for numbers outside mainland China, e.g. '+12025550123'. */
  phoneNumber: string;
  /** Without the country code. */
  purePhoneNumber: string;
  countryCode: string;
}

/** What `session.riskRank()` takes (getuserriskrank). */
export interface RiskRankInput {
  /** 0 registration, 1 marketing cheats (mini games add 2, UGC). */
  scene: number;
  /** The player's IP address. */
  clientIp: string;
  mobileNo?: string;
  emailAddress?: string;
  extendedInfo?: string;
  /** Ask WeChat for a test answer. @default false */
  isTest?: boolean;
}

export interface EncryptedDataCheck {
  /** True when WeChat issued this encryptedData to this app in the last 3 days. */
  valid: boolean;
  /** When WeChat issued it (unix seconds); 0 when not valid. */
  createTime: number;
}

/** The longest phone-number code accepted (like a login code). */
export const MAX_PHONE_CODE_LENGTH = 256;

function bad(message: string): never {
  throw new WxSessionError('WX_BAD_REQUEST', { message });
}

/** The answer, or the error its errcode stands for. */
function expectOk(answer: WeChatAnswer, request: WeChatRequest, operation: string): WeChatAnswer {
  const errcode = answer.errcode ?? 0;
  if (errcode !== 0) throw errcodeError(errcode, operation, sourceOf(answer, request));
  return answer;
}

function unreadable(operation: string, endpoint: string): WxSessionError {
  return new WxSessionError('WX_UPSTREAM_ERROR', { endpoint, message: `${operation} answered without the expected fields` });
}

/** A POST of JSON with the access token in the query, -1 retried. */
async function postJson(api: WeChatApi, path: string, payload: unknown, operation: string): Promise<WeChatAnswer> {
  const body = JSON.stringify(payload);
  const build = (accessToken: string): WeChatRequest => ({ method: 'POST', path, query: { access_token: accessToken }, body });
  return expectOk(await retryBusy(() => api.callWithToken(build)), build(''), operation);
}

/**
 * resetusersessionkey: WeChat replaces the player's key and answers the new one; the old one is
 * dead at once. Not retried on -1: a reset that went through would make the retry's signature
 * (under the old key) fail.
 */
export async function resetSessionKey(api: WeChatApi, openid: string, sessionKey: string): Promise<string> {
  const path = '/wxa/resetusersessionkey';
  const signature = signPayload('', sessionKey);
  const build = (accessToken: string): WeChatRequest => ({
    method: 'GET',
    path,
    query: { access_token: accessToken, openid, signature, sig_method: 'hmac_sha256' },
  });
  const answer = expectOk(await api.callWithToken(build), build(''), 'resetUserSessionKey');
  if (!nonEmpty(answer.session_key)) throw unreadable('resetUserSessionKey', path);
  return answer.session_key;
}

/** A phone-number code (from the button's bindgetphonenumber), checked before it is sent. */
export function checkPhoneCode(code: unknown, openid?: unknown): string {
  if (!nonEmpty(code)) bad('the phone-number code must be a non-empty string');
  if (code.length > MAX_PHONE_CODE_LENGTH) bad(`the phone-number code is longer than ${MAX_PHONE_CODE_LENGTH} characters`);
  if (openid !== undefined && !nonEmpty(openid)) bad('openid must be a non-empty string');
  return code;
}

/** getuserphonenumber; with `openid`, WeChat also checks the code was issued to that player. */
export async function getPhoneNumber(api: WeChatApi, code: string, openid: string | undefined): Promise<PhoneNumber> {
  const path = '/wxa/business/getuserphonenumber';
  const answer = await postJson(api, path, openid === undefined ? { code } : { code, openid }, 'getPhoneNumber');
  const info = answer.phone_info as Record<string, unknown> | undefined;
  const { phoneNumber, purePhoneNumber, countryCode } = info ?? {};
  // The docs type countryCode a string, their example shows the number 86.
  if (!nonEmpty(phoneNumber) || !nonEmpty(purePhoneNumber) || (typeof countryCode !== 'string' && typeof countryCode !== 'number')) {
    throw unreadable('getPhoneNumber', path);
  }
  return { phoneNumber, purePhoneNumber, countryCode: String(countryCode) };
}

/** riskRank's input as WeChat's JSON (snake_case), checked. */
export function riskRankBody(appId: string, openid: string, input: RiskRankInput): Record<string, unknown> {
  if (input === null || typeof input !== 'object') bad('riskRank takes { scene, clientIp, ... }');
  const { scene, clientIp, mobileNo, emailAddress, extendedInfo, isTest } = input;
  if (typeof scene !== 'number' || !Number.isSafeInteger(scene) || scene < 0) bad('scene must be an integer >= 0');
  if (!nonEmpty(clientIp)) bad('clientIp must be a non-empty string');
  const body: Record<string, unknown> = { appid: appId, openid, scene, client_ip: clientIp };
  for (const [field, value, name] of [['mobile_no', mobileNo, 'mobileNo'], ['email_address', emailAddress, 'emailAddress'], ['extended_info', extendedInfo, 'extendedInfo']] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'string') bad(`${name} must be a string`);
    body[field] = value;
  }
  if (isTest !== undefined) {
    if (typeof isTest !== 'boolean') bad('isTest must be a boolean');
    body.is_test = isTest;
  }
  return body;
}

/** getuserriskrank: the player's risk, 0 (lowest) to 4. */
export async function getRiskRank(api: WeChatApi, body: Record<string, unknown>): Promise<number> {
  const path = '/wxa/getuserriskrank';
  const answer = await postJson(api, path, body, 'getUserRiskRank');
  if (typeof answer.risk_rank !== 'number') throw unreadable('getUserRiskRank', path);
  return answer.risk_rank;
}

/** checkencryptedmsg over hex(sha256(encryptedData as given)). */
export async function checkEncryptedMsg(api: WeChatApi, encryptedData: unknown): Promise<EncryptedDataCheck> {
  if (!nonEmpty(encryptedData)) bad('encryptedData must be a non-empty string');
  const path = '/wxa/business/checkencryptedmsg';
  const hash = createHash('sha256').update(encryptedData, 'utf8').digest('hex');
  let answer: WeChatAnswer;
  try {
    answer = await postJson(api, path, { encrypted_msg_hash: hash }, 'checkEncryptedData');
  } catch (error) {
    // errcode 1: "data not exist" (older than 3 days, another key or app): not valid, not a failure.
    if (error instanceof WxSessionError && error.errcode === 1) return { valid: false, createTime: 0 };
    throw error;
  }
  // `vaild` (sic) is WeChat's spelling; the correct one is read too, should WeChat fix it.
  const valid = answer.vaild ?? answer.valid;
  if (typeof valid !== 'boolean') throw unreadable('checkEncryptedData', path);
  return { valid, createTime: valid && typeof answer.create_time === 'number' ? answer.create_time : 0 };
}
