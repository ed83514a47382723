// One HTTP request with fetch, as the docs and examples tests send them to a running server: the
// session token in X-WX-Session (or Authorization: Bearer), a login code in X-WX-Code, a JSON
// body; the answer's body read as a JSON object when it is one.

export interface Answer {
  status: number;
  headers: Headers;
  /** The body when it is a JSON object, else `{}`. */
  body: Record<string, unknown>;
  text: string;
}

export interface CallOptions {
  /** @default 'POST' with a body, else 'GET' */
  method?: string;
  token?: string;
  bearer?: string;
  code?: string;
  json?: unknown;
  /** A body sent as it is, with Content-Type application/json (malformed JSON, say). */
  raw?: string;
  /** More headers (X-WX-AppId, say). */
  headers?: Record<string, string>;
}

export async function call(url: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['X-WX-Session'] = options.token;
  if (options.bearer !== undefined) headers.Authorization = `Bearer ${options.bearer}`;
  if (options.code !== undefined) headers['X-WX-Code'] = options.code;
  const body = options.raw ?? (options.json === undefined ? undefined : JSON.stringify(options.json));
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: jsonObject(text), text };
}

function jsonObject(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = text === '' ? {} : JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {}; // not JSON: the caller reads `text`
  }
}
