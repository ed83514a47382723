// The routes of the test apps (harness/apps.ts) that call the session_key's APIs and the mini-game
// virtual payment (docs/session-key.md, docs/payments.md), written once and mounted on every
// framework: each takes the request's session (when it needs one), its JSON body, query and IP,
// and resolves the answer.
// A WxSessionError a call throws is answered by the adapter's `wx.errors`, as a game's route would.
import type { IncomingMessage } from 'node:http';
import { WxSessionError, type WxSession, type WxSessionCore } from '../src/index.js';

export interface PlayerRouteInput {
  /** The request's session (routes with `session: true` only). */
  session: WxSession;
  core: WxSessionCore;
  body: Record<string, unknown>;
  query: Record<string, unknown>;
  /** The player's IP as the server saw it (WeChat's user_ip / client_ip). */
  ip: string;
}

export interface PlayerRoute {
  method: 'GET' | 'POST';
  path: string;
  /** Behind `wx.required`. */
  session: boolean;
  run(input: PlayerRouteInput): Promise<{ status: number; body?: unknown }>;
}

/** The zone when the body names none: the soak's players and the simple tests buy in zone '1'. */
const zone = (value: unknown): string => (value === undefined ? '1' : (value as string));

/**
 *   POST /me/reset-key                                       session.resetKey()          -> 204
 *   POST /me/phone      { code }                             session.phoneNumber(code)   -> PhoneNumber
 *   POST /phone         { code, openid? }  (no session)      core.phoneNumber(code, ...) -> PhoneNumber
 *   POST /me/risk-rank  { scene, mobileNo?, emailAddress?, extendedInfo?, isTest? } -> { riskRank }
 *   POST /encrypted-data/check { encryptedData } (no session) core.checkEncryptedData -> { valid, createTime }
 *   GET  /me/balance?zoneId=                                 session.payments.balance()  -> balance fields
 *   POST /me/buy        { billNo, amount, zoneId?, payitem?, remark? } payments.pay()    -> { billNo, balance, usedPresentAmount }
 *   POST /me/cancel     { billNo, payBillNo, amount, zoneId? }         payments.cancel()
 *   POST /me/present    { billNo, amount, zoneId? }                    payments.present()
 * Values go to the library as the client sent them, unchecked (hence the casts) (but a missing zone is '1'): its checks refuse bad input.
 */
export const playerRoutes: readonly PlayerRoute[] = [
  {
    method: 'POST', path: '/me/reset-key', session: true,
    async run({ session }) {
      await session.resetKey();
      return { status: 204 };
    },
  },
  {
    method: 'POST', path: '/me/phone', session: true,
    run: async ({ session, body }) => ({ status: 200, body: await session.phoneNumber(body.code as string) }),
  },
  {
    method: 'POST', path: '/phone', session: false,
    run: async ({ core, body }) => ({ status: 200, body: await core.phoneNumber(body.code as string, body.openid === undefined ? {} : { openid: body.openid as string }) }),
  },
  {
    method: 'POST', path: '/me/risk-rank', session: true,
    async run({ session, body, ip }) {
      const { scene, mobileNo, emailAddress, extendedInfo, isTest } = body as Record<string, unknown>;
      const riskRank = await session.riskRank({ scene, clientIp: ip, mobileNo, emailAddress, extendedInfo, isTest } as never);
      return { status: 200, body: { riskRank } };
    },
  },
  {
    method: 'POST', path: '/encrypted-data/check', session: false,
    run: async ({ core, body }) => ({ status: 200, body: await core.checkEncryptedData(body.encryptedData as string) }),
  },
  {
    method: 'GET', path: '/me/balance', session: true,
    run: async ({ session, query, ip }) => ({ status: 200, body: await session.payments.balance({ zoneId: zone(query.zoneId), userIp: ip }) }),
  },
  {
    method: 'POST', path: '/me/buy', session: true,
    async run({ session, body, ip }) {
      const { billNo, amount, payitem, remark } = body as Record<string, unknown>;
      return { status: 200, body: await session.payments.pay({ billNo, amount, zoneId: zone(body.zoneId), userIp: ip, payitem, remark } as never) };
    },
  },
  {
    method: 'POST', path: '/me/cancel', session: true,
    async run({ session, body, ip }) {
      const { billNo, payBillNo, amount } = body as Record<string, unknown>;
      return { status: 200, body: await session.payments.cancel({ billNo, payBillNo, amount, zoneId: zone(body.zoneId), userIp: ip } as never) };
    },
  },
  {
    method: 'POST', path: '/me/present', session: true,
    async run({ session, body, ip }) {
      const { billNo, amount } = body as Record<string, unknown>;
      return { status: 200, body: await session.payments.present({ billNo, amount, zoneId: zone(body.zoneId), userIp: ip } as never) };
    },
  },
];

/** The route for a method and path, if it is one of the above. */
export function playerRoute(method: string, path: string): PlayerRoute | undefined {
  return playerRoutes.find((route) => route.method === method && route.path === path);
}

/** Runs `route`: `body` reads the request's JSON body, and is called for POSTs only. */
export async function answerPlayerRoute(
  route: PlayerRoute, core: WxSessionCore, session: WxSession, query: unknown, ip: string, body: () => Promise<Record<string, unknown>>,
): Promise<{ status: number; body?: unknown }> {
  return route.run({ session, core, body: route.method === 'GET' ? {} : await body(), query: (query ?? {}) as Record<string, unknown>, ip });
}

/**
 * The JSON body: the one a body parser already read (`parsed`), else read here (at most 16 KiB).
 * An empty body is `{}`; anything but a JSON object is WX_BAD_REQUEST.
 */
export async function jsonBody(req: IncomingMessage, parsed: unknown): Promise<Record<string, unknown>> {
  if (parsed !== undefined) return jsonObject(parsed);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) throw new WxSessionError('WX_PAYLOAD_TOO_LARGE');
    chunks.push(chunk as Buffer);
  }
  return jsonText(Buffer.concat(chunks).toString('utf8'));
}

/** A body read as text (empty: `{}`) to its JSON object; anything else is WX_BAD_REQUEST. */
export function jsonText(text: string): Record<string, unknown> {
  try {
    return jsonObject(text.trim() === '' ? {} : JSON.parse(text));
  } catch {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'the body must be a JSON object' });
  }
}

function jsonObject(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'the body must be a JSON object' });
  }
  return value as Record<string, unknown>;
}
