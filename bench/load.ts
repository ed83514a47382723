// The load generator: autocannon in its own process, so it neither shares an event loop with the
// mock WeChat (which lives in the orchestrator) nor with the server under test. Started by
// bench/children.ts with an IPC channel; it prints `{"ready":true}` once listening for jobs, takes one
// job at a time and answers with the numbers. It exits when the orchestrator disconnects, however
// the orchestrator ended.
import autocannon from 'autocannon';

export interface LoadJob {
  id: number;
  url: string;
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  duration: number;
  connections: number;
  pipelining: number;
  /** POST login: one fresh code per request, taken in order; the answer says how many were taken. */
  codes?: string[];
}

export interface LoadResult {
  id: number;
  /** 2xx answers per second over the run. */
  rps: number;
  total: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50: number;
  p99: number;
  duration: number;
  /** Codes handed to requests (login jobs). */
  codesUsed?: number;
  /** True when the code pool ran dry (later requests carried a spent code). */
  codesExhausted?: boolean;
}

async function run(job: LoadJob): Promise<LoadResult> {
  let used = 0;
  let exhausted = false;
  const options: autocannon.Options = {
    url: job.url,
    connections: job.connections,
    pipelining: job.pipelining,
    duration: job.duration,
    timeout: 10,
  };
  if (job.codes) {
    const codes = job.codes;
    options.requests = [
      {
        method: job.method,
        path: job.path,
        headers: { ...job.headers, 'content-type': 'application/json' },
        setupRequest: (request) => {
          let code = codes[used];
          if (code === undefined) {
            exhausted = true;
            code = codes[codes.length - 1]!;
          } else {
            used++;
          }
          request.body = `{"code":"${code}"}`;
          return request;
        },
      },
    ];
  } else {
    options.method = job.method;
    options.headers = job.headers;
    options.url = `${job.url}${job.path}`;
  }
  const result = await autocannon(options);
  const ok = result['2xx'];
  return {
    id: job.id,
    rps: ok / result.duration,
    total: result.requests.total,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    duration: result.duration,
    ...(job.codes ? { codesUsed: used, codesExhausted: exhausted } : {}),
  };
}

if (!process.send) {
  process.stderr.write('bench/load.ts is forked by bench/run.ts (it needs an IPC channel)\n');
  process.exit(2);
}
process.on('disconnect', () => process.exit(0));
process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send!({ type: 'result', result }),
    (error: unknown) => process.send!({ type: 'error', id: job.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
process.stdout.write('{"ready":true}\n');
