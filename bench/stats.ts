// From the runs to the numbers the report gives: medians and min–max across rounds, each variant's
// ratio to its baseline taken per round (the two runs are neighbours in time) and then its median,
// and the verdicts on the targets. fmt is how every count is printed.
import type { HeapResult } from './heap.js';
import type { Sample } from './measure.js';
import { COMPARISONS, type VariantSpec } from './settings.js';

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

/** Per-round ratios value(a)/value(b) over the rounds where both runs pass `keep`, then their spread and count. */
function perRound(samples: Sample[], a: string, b: string, value: (s: Sample) => number | undefined, keep: (s: Sample) => boolean = () => true) {
  const ratios: number[] = [];
  for (const sa of samples.filter((s) => s.variant === a && keep(s) && value(s) !== undefined)) {
    const sb = samples.find((s) => s.variant === b && s.round === sa.round && keep(s));
    const divisor = sb && value(sb);
    if (divisor) ratios.push(value(sa)! / divisor);
  }
  return ratios.length ? { ...spread(ratios), n: ratios.length } : undefined;
}

/** Per-round ratios a/b of req/s (both measured in the same round), then their spread. */
export const pairedRatio = (samples: Sample[], a: string, b: string) => perRound(samples, a, b, (s) => s.rps);

/** Like pairedRatio, over the rounds where neither run was disturbed by other load. */
const quietRatio = (samples: Sample[], a: string, b: string) => perRound(samples, a, b, (s) => s.rps, quiet);

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
  const { spec, ratio, cpuRatio, quiet } = v;
  if (spec.target === undefined || !ratio) return undefined;
  const met = ratio.median >= spec.target;
  const short = spec.target - ratio.median;
  const measured =
    `${ratio.median.toFixed(3)} (rounds ${ratio.min.toFixed(3)}–${ratio.max.toFixed(3)})` +
    (cpuRatio ? `; CPU-cost ratio ${cpuRatio.median.toFixed(3)}` : '') +
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

function heapVerdict(heap: HeapResult): Verdict {
  const met = heap.bytesPerSession <= 1024;
  return {
    what: 'MemoryStore heap per session',
    target: '<= 1024 B',
    measured: `${heap.bytesPerSession} B`,
    met,
    note: met ? `${fmt(1024 - heap.bytesPerSession)} B to spare` : `MISSED by ${heap.bytesPerSession - 1024} B`,
  };
}

export function verdicts(perVariant: VariantSummary[], heap: HeapResult): Verdict[] {
  const throughput = perVariant.map(throughputVerdict).filter((v): v is Verdict => v !== undefined);
  return [...throughput, heapVerdict(heap)];
}
