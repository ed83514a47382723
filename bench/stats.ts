// From the runs to the numbers the report gives: medians and min–max across rounds, each variant's
// ratio to its baseline (and to the variants in its `also`) taken per round (the runs are
// neighbours in time) and then its median, the server CPU per request it costs over its baseline
// (per round, then the median), and the verdicts on the targets. fmt is how every count is printed.
import type { HeapResult } from './heap.js';
import type { Sample } from './measure.js';
import { COMPARISONS, HEAP_SESSION_TARGET, HEAP_VERIFIED_TARGET, type VariantSpec } from './settings.js';

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Cores of other load above which a run counts as disturbed. */
const QUIET_OTHER_CPU = 0.2;
const quiet = (s: Sample) => s.otherCpu !== undefined && s.otherCpu < QUIET_OTHER_CPU;

const ratioOf = (x: number, y: number) => (y ? x / y : undefined);
const always = () => true;

/**
 * Per round, combine(value(a), value(b)) (a ratio unless told) over the rounds where both runs
 * pass `keep`, then their spread and count.
 */
function perRound(
  samples: Sample[],
  a: string,
  b: string,
  value: (s: Sample) => number | undefined,
  { keep = always, combine = ratioOf }: { keep?: (s: Sample) => boolean; combine?: (x: number, y: number) => number | undefined } = {},
) {
  const out: number[] = [];
  for (const sa of samples.filter((s) => s.variant === a && keep(s))) {
    const sb = samples.find((s) => s.variant === b && s.round === sa.round && keep(s));
    const va = value(sa);
    const vb = sb && value(sb);
    const combined = va !== undefined && vb !== undefined ? combine(va, vb) : undefined;
    if (combined !== undefined) out.push(combined);
  }
  return out.length ? { ...spread(out), n: out.length } : undefined;
}

/** Per-round ratios a/b of req/s (both measured in the same round), then their spread. */
export const pairedRatio = (samples: Sample[], a: string, b: string) => perRound(samples, a, b, (s) => s.rps);

/** Like pairedRatio, over the rounds where neither run was disturbed by other load. */
const quietRatio = (samples: Sample[], a: string, b: string) => perRound(samples, a, b, (s) => s.rps, { keep: quiet });

/** Per-round differences a − b of server CPU µs per request: what a costs over b, robust to a busy machine. */
const pairedCpuOver = (samples: Sample[], a: string, b: string) => perRound(samples, a, b, (s) => s.cpuUsPerReq, { combine: (x, y) => x - y });

/** Per-round CPU-cost ratios: b's server CPU per request over a's (what the throughput ratio would be if both were purely CPU-bound). */
const pairedCpuRatio = (samples: Sample[], a: string, b: string) => perRound(samples, a, b, (s) => (s.cpuUsPerReq ? 1 / s.cpuUsPerReq : undefined));

export interface Comparison {
  a: string;
  b: string;
  r: Spread;
}

/** wx-session beside the classic session middlewares, among the variants that ran. */
export function comparisons(specs: VariantSpec[], samples: Sample[]): Comparison[] {
  const ran = (name: string) => specs.some((s) => s.name === name);
  return COMPARISONS.filter(([a, b]) => ran(a) && ran(b)).flatMap(([a, b]) => {
    const r = pairedRatio(samples, a, b);
    return r ? [{ a, b, r }] : [];
  });
}

export type VariantSummary = ReturnType<typeof summarize>;

/** One variant's numbers across its rounds. */
export function summarize(spec: VariantSpec, samples: Sample[]) {
  const mine = samples.filter((s) => s.variant === spec.name);
  const medianOf = (pick: (s: Sample) => number | undefined) => {
    const values = mine.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  return {
    spec,
    rps: spread(mine.map((s) => s.rps)),
    p50: median(mine.map((s) => s.p50)),
    p99: median(mine.map((s) => s.p99)),
    serverCpu: medianOf((s) => s.serverCpu),
    cpuUsPerReq: medianOf((s) => s.cpuUsPerReq),
    otherCpu: medianOf((s) => s.otherCpu),
    maxRss: Math.max(0, ...mine.map((s) => s.serverRss ?? 0)),
    cpuRatio: spec.baseline ? pairedCpuRatio(samples, spec.name, spec.baseline) : undefined,
    /** Server CPU µs per request over the baseline's: the median of the per-round differences. */
    cpuOver: spec.baseline ? pairedCpuOver(samples, spec.name, spec.baseline) : undefined,
    /** Per-round req/s ratios to the variants in spec.also that ran (no target). */
    also: (spec.also ?? []).flatMap((vs) => {
      const r = pairedRatio(samples, spec.name, vs);
      return r ? [{ vs, r }] : [];
    }),
    quiet: spec.baseline ? quietRatio(samples, spec.name, spec.baseline) : undefined,
    loadCpu: medianOf((s) => s.loadCpu),
    mockCpu: medianOf((s) => s.mockCpu),
    failures: mine.reduce((n, s) => n + s.non2xx + s.errors, 0),
    rounds: mine.length,
    ratio: spec.baseline ? pairedRatio(samples, spec.name, spec.baseline) : undefined,
  };
}

export interface Verdict {
  what: string;
  target: string;
  measured: string;
  met: boolean;
  note: string;
  variant?: string;
}

/** A throughput target judged on the median of the per-round ratios; undefined without a target. */
function throughputVerdict(v: VariantSummary): Verdict | undefined {
  const { spec, ratio, cpuRatio, cpuOver, quiet } = v;
  if (spec.target === undefined || !ratio) return undefined;
  const met = ratio.median >= spec.target;
  const short = spec.target - ratio.median;
  const measured =
    `${ratio.median.toFixed(3)} (rounds ${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)})` +
    (cpuRatio ? `; CPU-cost ratio ${cpuRatio.median.toFixed(3)}` : '') +
    (cpuOver ? `; ${signedUs(cpuOver.median)} µs of server CPU per request over ${spec.baseline}` : '') +
    v.also.map((a) => `; ratio to ${a.vs} ${a.r.median.toFixed(3)}`).join('') +
    (quiet ? `; undisturbed rounds only: ${quiet.median.toFixed(3)} (${quiet.n} of ${v.rounds})` : '; no undisturbed round');
  const outcome = met
    ? ratio.min < spec.target
      ? `met on the median; some rounds below target`
      : 'met in every round'
    : `MISSED by ${short.toFixed(3)} (${((100 * short) / spec.target).toFixed(1)}% below target)${ratio.max >= spec.target ? '; some rounds reached it' : ''}`;
  const cpuDisagrees =
    cpuRatio && cpuRatio.median >= spec.target !== met
      ? `; the CPU-cost ratio (${cpuRatio.median.toFixed(3)}) ${met ? 'misses' : 'meets'} the target: the throughput ratio is ${met ? 'flattered' : 'hurt'} by scheduling noise or by waiting`
      : '';
  return { what: `${spec.name} / ${spec.baseline}`, target: `>= ${spec.target.toFixed(2)}`, measured, met, note: outcome + cpuDisagrees, variant: spec.name };
}

/** A signed count of µs, as the report prints a cost over a baseline. */
export const signedUs = (n: number) => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(1)}`;

function bytesVerdict(what: string, bytes: number, target: number): Verdict {
  const met = bytes <= target;
  return {
    what,
    target: `<= ${target} B`,
    measured: `${bytes} B`,
    met,
    note: met ? `${fmt(target - bytes)} B to spare` : `MISSED by ${bytes - target} B`,
  };
}

/** The heap targets: per MemoryStore session, and per entry of the core's verified-token LRU. */
export function heapVerdicts(heap: HeapResult): Verdict[] {
  return [
    bytesVerdict('MemoryStore heap per session', heap.bytesPerSession, HEAP_SESSION_TARGET),
    bytesVerdict(`verified-token LRU heap per entry (${fmt(heap.verifiedLru.entries)} entries at most)`, heap.verifiedLru.bytesPerEntry, HEAP_VERIFIED_TARGET),
  ];
}

export function verdicts(perVariant: VariantSummary[], heap: HeapResult): Verdict[] {
  const throughput = perVariant.map(throughputVerdict).filter((v): v is Verdict => v !== undefined);
  return [...throughput, ...heapVerdicts(heap)];
}
