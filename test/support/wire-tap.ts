// A recording proxy between wx-session and the mock WeChat: the core's `apiBase` points here, and
// each request is kept exactly as it arrived (path, raw query, body bytes) with the mock's answer,
// so a test can check what the library put on the wire, byte for byte, and that WeChat took it.
import type { Server } from 'node:http';
import { closeServer, listen } from '../../harness/apps.js';

export interface TappedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The body bytes as they arrived. */
  body: Buffer;
  status: number;
  /** The mock's answer, parsed (undefined when it was not JSON). */
  answer: Record<string, unknown> | undefined;
}

export interface WireTap {
  url: string;
  readonly calls: readonly TappedCall[];
  /** The calls to `path` since the last clear(). */
  callsTo(path: string): TappedCall[];
  clear(): void;
  close(): Promise<void>;
}

async function bytesOf(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function parsed(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a tap forwarding everything to `upstream` (the mock's url). */
export async function startWireTap(upstream: string): Promise<WireTap> {
  const calls: TappedCall[] = [];
  const { server, url } = await listen((req, res) => {
    const target = new URL(req.url ?? '/', 'http://tap.invalid');
    const method = req.method ?? 'GET';
    bytesOf(req)
      .then(async (body) => {
        const headers: Record<string, string> = {};
        if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
        const answer = await fetch(`${upstream}${req.url}`, { method, headers, body: method === 'GET' ? undefined : new Uint8Array(body) });
        const text = await answer.text();
        calls.push({ method, path: target.pathname, query: target.searchParams, body, status: answer.status, answer: parsed(text) });
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(text);
      })
      .catch(() => res.destroy());
  });
  return {
    url,
    calls,
    callsTo: (path) => calls.filter((call) => call.path === path),
    clear: () => void calls.splice(0),
    close: () => closeServer(server as Server),
  };
}
