// The soak's HTTP to the instances, recorded: send() does one request, an Exchange is what the
// checks see of it, and the Recorder counts latencies and statuses of the load phase and searches
// every answer for secrets (harness/secret-scan.ts) as it ages, so a long soak keeps none for long.
import type { SecretScanner } from '../harness/secret-scan.js';
import { REQUEST_TIMEOUT_MS } from './config.js';

export type SecretKind = 'session_key' | 'access_token' | 'AppSecret' | 'AppKey' | 'signing secret';

/** A secret found: its kind and where (e.g. 'instance A stderr'), never its value. */
interface SecretFound {
  kind: SecretKind;
  source: string;
}

export interface CapturedText {
  source: string;
  text: string;
}

/** Every source in `captured` holding a registered secret (as it is, URL-encoded or JSON-escaped), once per kind and source. */
export function findSecrets(captured: readonly CapturedText[], secrets: SecretScanner<SecretKind>): SecretFound[] {
  const found: SecretFound[] = [];
  const seen = new Set<string>();
  for (const { source, text } of captured) {
    for (const { kind } of secrets.find(text, source)) {
      if (seen.has(`${kind} ${source}`)) continue;
      seen.add(`${kind} ${source}`);
      found.push({ kind, source });
    }
  }
  return found;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

/** One HTTP exchange with an instance. `label` is the operation it belongs to, for latencies. */
export interface Exchange {
  label: string;
  instance: string;
  method: string;
  path: string;
  sentCode: boolean;
  token?: string;
  status: number;
  /** The `code` of a wx-session error body. */
  errorCode?: string;
  data: unknown;
  ms: number;
  /** When it was sent (Date.now()). */
  sentAt?: number;
}

/** 503 WX_STORE_UNAVAILABLE: allowed on the Cluster during a failover only (see FAILOVER_MARGIN_MS). */
export function isStoreUnavailable(ex: { status: number; errorCode?: string }): boolean {
  return ex.status === 503 && ex.errorCode === 'WX_STORE_UNAVAILABLE';
}

/** fetch with a timeout; the answer parsed as wx.request does (JSON when it parses). */
export async function send(url: string, init: { method: string; headers: Record<string, string>; body?: string }): Promise<{ answer: Answer; text: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const text = await response.text();
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return { answer: { status: response.status, headers, data: parseBody(text) }, text };
}

/** An answer's body as wx.request hands it over: parsed when it is JSON, else the text. */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function errorCodeOf(data: unknown): string | undefined {
  return isRecord(data) && typeof data.code === 'string' ? data.code : undefined;
}

const LABELS: Record<string, string> = { '/wx/login': 'login', '/wx/logout': 'logout', '/me': 'read', '/me/score': 'write', '/me/balance': 'balance', '/me/buy': 'buy' };

/** The kind of request, for the latencies: 'read', 'login', 'buy', 'write (X-WX-Code retry)'... */
export function labelOf(method: string, path: string, sentCode: boolean): string {
  const base = LABELS[path.split('?')[0]!] ?? `${method} ${path}`;
  return sentCode ? `${base} (X-WX-Code retry)` : base;
}

export class Recorder {
  readonly latencies = new Map<string, number[]>();
  readonly all: number[] = [];
  readonly perInstance: Record<string, number> = {};
  readonly statuses: Record<string, number> = {};
  /** Answers (status, headers, body as text) not yet searched for secrets, with when they came. */
  #unscanned: { at: number; text: string }[] = [];
  /** Bytes of answers searched so far, and what was found in them. */
  scannedBytes = 0;
  readonly hits: SecretFound[] = [];
  capturing = true;
  requests = 0;
  networkErrors = 0;
  /** Start of the load phase, and the requests answered below 500 by the second they were sent in since then. */
  started = 0;
  readonly okBySecond: number[] = [];

  record(exchange: Exchange, rawText: string, headers: Record<string, string>): void {
    this.#unscanned.push({ at: Date.now(), text: `${exchange.status} ${JSON.stringify(headers)} ${rawText}` });
    if (!this.capturing) return;
    this.requests += 1;
    this.all.push(exchange.ms);
    let list = this.latencies.get(exchange.label);
    if (!list) this.latencies.set(exchange.label, (list = []));
    list.push(exchange.ms);
    this.perInstance[exchange.instance] = (this.perInstance[exchange.instance] ?? 0) + 1;
    this.statuses[exchange.status] = (this.statuses[exchange.status] ?? 0) + 1;
    if (this.started > 0 && exchange.status < 500 && exchange.sentAt !== undefined && exchange.sentAt >= this.started) {
      const second = Math.floor((exchange.sentAt - this.started) / 1000);
      while (this.okBySecond.length <= second) this.okBySecond.push(0);
      this.okBySecond[second]! += 1;
    }
  }

  /**
   * Searches the answers that came before `before` for `secrets`, then forgets them, so a long
   * soak does not hold every answer in memory. Complete as long as every secret is registered
   * before `before`: session_keys are registered when the mock makes them (before any server
   * has them), access tokens are sampled every 50 ms, and `before` lags by a second.
   */
  scan(secrets: SecretScanner<SecretKind>, before = Infinity): void {
    let count = 0;
    while (count < this.#unscanned.length && this.#unscanned[count]!.at < before) count++;
    if (count === 0) return;
    const text = this.#unscanned
      .splice(0, count)
      .map((answer) => answer.text)
      .join('\n');
    this.scannedBytes += text.length;
    for (const hit of findSecrets([{ source: 'answers to the players and the checks', text }], secrets)) {
      if (!this.hits.some((seen) => seen.kind === hit.kind && seen.source === hit.source)) this.hits.push(hit);
    }
  }
}
