// Reading a login body (SECURITY.md, "Denial of service"): at most 8 KiB, within `bodyTimeout`, and
// made the JSON object the login expects. For Node requests; src/http-web.ts reads Web streams.
import type { IncomingMessage } from 'node:http';
import { WxSessionError } from './errors.js';

export const LOGIN_BODY_LIMIT = 8 * 1024;
/** How long a login body may take to arrive when the adapter reads it itself. @default 10 s */
export const DEFAULT_BODY_TIMEOUT = 10_000;

/**
 * Reads a login body no body parser has read, up to LOGIN_BODY_LIMIT bytes. On overflow it
 * stops keeping bytes, lets the rest drain, and throws WX_PAYLOAD_TOO_LARGE. A body that has not
 * arrived within `timeout` ms throws WX_REQUEST_TIMEOUT (the adapter then closes the connection).
 */
export function readBody(req: IncomingMessage, timeout = DEFAULT_BODY_TIMEOUT): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > LOGIN_BODY_LIMIT) {
      req.resume();
      reject(new WxSessionError('WX_PAYLOAD_TOO_LARGE'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      reject(new WxSessionError('WX_REQUEST_TIMEOUT'));
    }, timeout);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > LOGIN_BODY_LIMIT) {
        cleanup();
        req.resume();
        reject(new WxSessionError('WX_PAYLOAD_TOO_LARGE'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onError = () => {
      cleanup();
      reject(new WxSessionError('WX_BAD_REQUEST', { message: 'the request body could not be read' }));
    };
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onError);
  });
}

/** A login body as read (text, bytes) or parsed (anything) to the object a login expects. */
export function loginObject(read: unknown): Record<string, unknown> {
  let body = read;
  if (Buffer.isBuffer(body)) body = body.toString('utf8');
  if (typeof body === 'string') {
    if (body.trim() === '') return {};
    try {
      body = JSON.parse(body);
    } catch {
      throw new WxSessionError('WX_BAD_REQUEST', { message: 'the login body is not valid JSON' });
    }
  }
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new WxSessionError('WX_BAD_REQUEST', { message: 'the login body must be a JSON object' });
  }
  return body as Record<string, unknown>;
}
