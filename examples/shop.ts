// The game's shop and phone binding, shared by the Express, Koa, Fastify and Hono examples: what a
// route does with `session.payments` (mini-game virtual payment 2.0) and `session.phoneNumber`,
// whatever the framework. The server prices the items; the game client only picks one and numbers
// the order.
import { WxSessionError, type PaymentOptions, type WxSession } from 'wx-session';

declare module 'wx-session' {
  interface WxSessionData {
    /** The orders granted, billNo -> what and where (a real game keeps these in its database). */
    purchases?: Record<string, { item: string; zoneId: string }>;
    /** The phone number bound with POST /me/phone, without its country code. */
    phone?: string;
  }
}

/** Prices in game coins, set by the server: a client never says what an item costs. */
export const ITEMS: Readonly<Record<string, number>> = Object.freeze({ sword: 30, shield: 20, potion: 5 });
/** The game's zone (server) as set up in the virtual payment admin page, when a request names none. */
export const ZONE = '1';

/** WeChat: "bill_no already used". */
const ALREADY_PAID = 90012;
/** WeChat: the player has too few coins. */
const NOT_ENOUGH = 90013;

/** An answer of the shop's routes: the status and the JSON body. */
export interface ShopAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** What the payment routes answer on a server started without the payment settings. */
export const NOT_CONFIGURED: ShopAnswer = Object.freeze({
  status: 501,
  body: { code: 'PAYMENT_NOT_CONFIGURED', message: 'this server has no payment option: set WX_OFFER_ID and WX_PAY_APPKEY' },
});

/**
 * The `payment` option from WX_OFFER_ID and WX_PAY_APPKEY (and WX_PAY_SANDBOX_APPKEY, WX_PAY_ENV=1
 * for the sandbox); undefined when they are not set.
 */
export function paymentFromEnv(env: NodeJS.ProcessEnv): PaymentOptions | undefined {
  const { WX_OFFER_ID, WX_PAY_APPKEY, WX_PAY_SANDBOX_APPKEY, WX_PAY_ENV } = env;
  if (!WX_OFFER_ID || !WX_PAY_APPKEY) return undefined;
  return {
    offerId: WX_OFFER_ID,
    appKey: WX_PAY_SANDBOX_APPKEY ? { production: WX_PAY_APPKEY, sandbox: WX_PAY_SANDBOX_APPKEY } : WX_PAY_APPKEY,
    env: WX_PAY_ENV === '1' ? 1 : 0,
  };
}

function fieldsOf(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : {};
}

/**
 * The zone of a request: its `?zoneId=`, else ZONE. Anything but one non-empty string (`?zoneId=`,
 * the parameter twice) is passed on for wx-session to refuse, 400 WX_BAD_REQUEST.
 */
export function zoneOf(query: Record<string, unknown>): string {
  return (query.zoneId ?? ZONE) as string;
}

/** GET /me/balance[?zoneId=]: the player's coins in that zone. */
export async function readBalance(session: WxSession, zoneId: string, userIp: string): Promise<ShopAnswer> {
  const { balance, presentBalance } = await session.payments.balance({ zoneId, userIp });
  return { status: 200, body: { balance, presentBalance } };
}

/**
 * POST /me/buy[?zoneId=] `{ item, billNo }`. The game client makes the billNo once per purchase
 * and sends the same one again when a try failed with a network error or a 5xx: WeChat pays a
 * billNo at most once, so a retry never charges twice. When WeChat answers 90012 (that billNo was
 * paid by an earlier try whose answer was lost), the purchase is done: the item is granted, not
 * charged again. (A route that lets 90012 through answers 502 with `errcode: 90012`; a game that
 * sees it treats the purchase as paid and asks the server for what it owns, it never buys again
 * with a new billNo.) The price is the server's: an `amount` the client sends is ignored. A bad
 * billNo is 400 WX_BAD_REQUEST before any call to WeChat; a stale session_key is 401
 * WX_SESSION_KEY_EXPIRED, which the client repairs with X-WX-Code and retries, same billNo.
 */
export async function buy(session: WxSession, body: unknown, zoneId: string, userIp: string): Promise<ShopAnswer> {
  const { item, billNo } = fieldsOf(body);
  if (typeof item !== 'string' || !Object.hasOwn(ITEMS, item)) {
    return { status: 400, body: { code: 'BAD_ITEM', message: `item must be one of ${Object.keys(ITEMS).join(', ')}` } };
  }
  const purchases = session.data.purchases ?? {};
  const earlier = typeof billNo === 'string' && Object.hasOwn(purchases, billNo) ? purchases[billNo] : undefined;
  // WeChat keeps a billNo per zone: the same one for another item or zone would be a second charge.
  if (earlier && (earlier.item !== item || earlier.zoneId !== zoneId)) {
    return { status: 409, body: { code: 'BILL_NO_REUSED', message: 'this billNo was used for another item or zone' } };
  }
  let balance: number | undefined;
  try {
    ({ balance } = await session.payments.pay({ amount: ITEMS[item]!, billNo: billNo as string, zoneId, userIp, payitem: item }));
  } catch (error) {
    if (!(error instanceof WxSessionError)) throw error;
    if (error.errcode === NOT_ENOUGH) return { status: 409, body: { code: 'NOT_ENOUGH_COINS', message: `${item} costs ${ITEMS[item]} coins` } };
    if (error.errcode !== ALREADY_PAID) throw error;
  }
  // Saved with the session before the answer goes out; a repeat of a granted order changes nothing.
  session.data.purchases = { ...purchases, [billNo as string]: { item, zoneId } };
  return { status: 200, body: { item, billNo, ...(balance === undefined ? { alreadyPaid: true } : { balance }) } };
}

/**
 * POST /me/phone `{ code }`: the code from the game's phone-number button, exchanged with WeChat
 * (which checks it was issued to this player) and bound to the session. A code that is not a
 * string or over 256 characters is 400 WX_BAD_REQUEST; a spent or foreign code is 401 WX_CODE_INVALID.
 */
export async function bindPhone(session: WxSession, body: unknown): Promise<ShopAnswer> {
  const { phoneNumber, purePhoneNumber, countryCode } = await session.phoneNumber(fieldsOf(body).code as string);
  session.data.phone = purePhoneNumber;
  return { status: 200, body: { phoneNumber, countryCode } };
}
