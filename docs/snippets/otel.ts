// otel.ts: an OpenTelemetry span for every call wx-session makes to WeChat, from its
// wx-session:wechat TracingChannel. Once at start-up, with @opentelemetry/api:
//   traceWeChatCalls(trace.getTracer('wx-session'));
import diagnostics from 'node:diagnostics_channel';

/** The members of @opentelemetry/api's Tracer and Span this uses. */
export interface Tracer {
  startSpan(name: string, options?: { kind?: number; attributes?: Record<string, string | number> }): Span;
}
export interface Span {
  setAttribute(key: string, value: string | number): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

/** The context of one traced call; `errcode` and `rid` are set once WeChat answered. */
interface WeChatCall {
  appId: string;
  endpoint: string;
  method: 'GET' | 'POST';
  errcode?: number;
  rid?: string;
  error?: unknown;
}

const SPAN_KIND_CLIENT = 2; // SpanKind.CLIENT
const STATUS_OK = 1; // SpanStatusCode.OK
const STATUS_ERROR = 2; // SpanStatusCode.ERROR

/** Starts a span per WeChat call; returns the function that stops doing so. */
export function traceWeChatCalls(tracer: Tracer): () => void {
  const channel = diagnostics.tracingChannel('wx-session:wechat');
  const spans = new WeakMap<object, Span>();
  const handlers = {
    start(context: object) {
      const call = context as WeChatCall;
      const attributes = { 'wechat.app_id': call.appId, 'wechat.endpoint': call.endpoint, 'http.request.method': call.method };
      spans.set(context, tracer.startSpan(`WeChat ${call.endpoint}`, { kind: SPAN_KIND_CLIENT, attributes }));
    },
    end() {},
    asyncStart() {},
    asyncEnd(context: object) {
      const call = context as WeChatCall;
      const span = spans.get(context);
      if (!span) return;
      if (call.errcode !== undefined) span.setAttribute('wechat.errcode', call.errcode);
      if (call.rid !== undefined) span.setAttribute('wechat.rid', call.rid);
      if (call.error !== undefined) span.setStatus({ code: STATUS_ERROR, message: (call.error as Error).message });
      else if (call.errcode) span.setStatus({ code: STATUS_ERROR, message: `errcode ${call.errcode}` });
      else span.setStatus({ code: STATUS_OK });
      span.end();
    },
    error() {},
  };
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}
