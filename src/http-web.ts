// The wire protocol of src/http.ts for adapters over Web `Request`/`Response` (Hono): reading a
// login body from a Web stream under the same 8 KiB limit and `bodyTimeout`, and a Reply as a
// Response. Everything else (tokens, codes, answers) is src/http.ts's, unchanged.
import { WxSessionError } from './errors.js';
import type { WxSessionCore } from './core-types.js';
import { DEFAULT_BODY_TIMEOUT, LOGIN_BODY_LIMIT, loginObject, loginReply, replyFor, type Reply } from './http.js';

/**
 * The body of `request` as text, at most LOGIN_BODY_LIMIT bytes: a larger declared or sent
 * body throws WX_PAYLOAD_TOO_LARGE, one not arrived within `timeout` ms WX_REQUEST_TIMEOUT. The
 * stream is cancelled in both cases, so nothing more of it is kept.
 */
export async function readWebBody(request: Request, timeout = DEFAULT_BODY_TIMEOUT): Promise<string> {
  if (Number(request.headers.get('content-length')) > LOGIN_BODY_LIMIT) throw new WxSessionError('WX_PAYLOAD_TOO_LARGE');
  if (request.body === null) return '';
  const reader = request.body.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WxSessionError('WX_REQUEST_TIMEOUT')), timeout);
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), expired]);
      if (done) break;
      size += value.byteLength;
      if (size > LOGIN_BODY_LIMIT) throw new WxSessionError('WX_PAYLOAD_TOO_LARGE');
      chunks.push(value);
    }
  } catch (error) {
    reader.cancel().catch(() => {});
    if (error instanceof WxSessionError) throw error;
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'the request body could not be read' });
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** POST loginPath over a Web Request: the same answers as handleLogin gives a Node request. */
export async function handleWebLogin(core: WxSessionCore, request: Request, bodyTimeout?: number): Promise<Reply> {
  try {
    return await loginReply(core, loginObject(await readWebBody(request, bodyTimeout)), request.headers);
  } catch (error) {
    return replyFor(error);
  }
}

/** A Reply as a Response; JSON bodies typed as Express's `res.json` and Fastify type them. */
export function toResponse(reply: Reply): Response {
  if (reply.body === undefined) return new Response(null, { status: reply.status, headers: reply.headers });
  const headers = { ...reply.headers, 'Content-Type': 'application/json; charset=utf-8' };
  return new Response(JSON.stringify(reply.body), { status: reply.status, headers });
}
