// CPU profiles of a variant that missed its target (BENCH_PROFILE): taken in a fresh server child
// with the V8 profiler over one load run, read into µs of server CPU per request (by place, by
// function, and wx-session's own functions with what they call), and reported against the
// baseline's profile.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startServer, type Upstreams } from './children.js';
import { runVariant, type Rig } from './measure.js';
import { LIB_DIR, PAUSE_MS, PROFILE_DURATION, root, type VariantSpec } from './settings.js';
import { fmt } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

type Frame = ProfileNode['callFrame'];

/** A V8 .cpuprofile. */
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Profile {
  variant: string;
  requests: number;
  rps: number;
  /** Server CPU per answer from /proc during the profiled run (all threads), µs. */
  procUsPerReq?: number;
  /** Busy CPU time of the server's main thread, µs (idle and "(program)" excluded). */
  busyUs: number;
  /** Self µs by function (name + where). */
  selfByFn: Map<string, number>;
  /** Self µs by package / place. */
  selfByPlace: Map<string, number>;
  /** µs in wx-session frames and what they call, down to where control goes back to the framework or the app. */
  wxInclusiveUs: number;
  /** Inclusive µs per wx-session function (outermost occurrence). */
  wxInclByFn: Map<string, number>;
}

// ---------------------------------------------------------------------------------------------
// Naming frames

/** A frame's file, with the compiled library (bench/.tmp/lib) shown as the source it came from. */
function fileOf(url: string): string {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(LIB_DIR + '/') ? join(root, relative(LIB_DIR, path)) : path;
}

function placeOf(frame: Frame): string {
  if (frame.functionName === '(garbage collector)') return 'GC';
  const url = frame.url;
  if (!url) return '(native: syscalls, V8 builtins)';
  if (url.startsWith('node:')) return 'node internals';
  const path = fileOf(url);
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const rel = relative(root, path);
  if (rel.startsWith('src/') || rel.startsWith('adapters/')) return `wx-session ${rel.split('/')[0]}/`;
  if (rel.startsWith('bench/')) return 'bench (routes)';
  return rel.startsWith('..') ? path : rel;
}

function whereOf(frame: Frame): string {
  if (!frame.url) return '';
  const raw = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  if (raw.startsWith(LIB_DIR + '/')) {
    // The compiled library: name the source file, and the line in tsc's output (about the same).
    return `${relative(LIB_DIR, raw).replace(/\.js$/, '.ts')} (js:${frame.lineNumber + 1})`;
  }
  const nm = raw.lastIndexOf('/node_modules/');
  const shown = nm >= 0 ? raw.slice(nm + 14) : raw.startsWith('node:') ? raw : relative(root, raw);
  // Code loaded through tsx reports line 1 for everything: the file alone says more.
  return frame.lineNumber > 0 ? `${shown}:${frame.lineNumber + 1}` : shown;
}

function isWx(frame: Frame): boolean {
  if (!frame.url.startsWith('file://')) return false;
  const rel = relative(root, fileOf(frame.url));
  return rel.startsWith('src/') || rel.startsWith('adapters/');
}

const fnKey = (frame: Frame) => `${frame.functionName || '(anonymous)'}\u0000${whereOf(frame)}`;
const splitKey = (k: string) => {
  const [name, where] = k.split('\u0000');
  return { name: name!, where: where! };
};

/** Frames where a middleware hands control back: the framework, the router, the app's routes. */
const DOWNSTREAM_PLACES = new Set(['express', 'router', 'koa', 'koa-compose', '@koa/router', 'fastify', 'find-my-way', 'hono', '@hono/node-server', 'bench (routes)', 'body-parser']);

// A middleware's continuation (next(), await next(), the original res.end) runs inside its
// frames: the rest of the request would count as wx-session's. "Own" totals stop at the frames
// where control goes back to the framework or the app.
const isBoundary = (frame: Frame) => DOWNSTREAM_PLACES.has(placeOf(frame)) || (frame.functionName === 'end' && frame.url === 'node:_http_outgoing');

// ---------------------------------------------------------------------------------------------
// Reading a profile

/** The call tree with each node's self time, µs. */
class CallTree {
  readonly byId: Map<number, ProfileNode>;
  readonly parent = new Map<number, number>();
  readonly self = new Map<number, number>();
  /** Nodes that are not the server working: "(idle)" and "(program)". */
  readonly idle: Set<number>;

  constructor(readonly profile: CpuProfile) {
    this.byId = new Map(profile.nodes.map((node) => [node.id, node]));
    for (const node of profile.nodes) for (const c of node.children ?? []) this.parent.set(c, node.id);
    this.idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)' || n.callFrame.functionName === '(program)').map((n) => n.id));
    // timeDeltas[i + 1] is the time between sample i and the next: the time sample i stands for.
    profile.samples.forEach((id, i) => this.self.set(id, (this.self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
  }

  frame(id: number): Frame {
    return this.byId.get(id)!.callFrame;
  }

  /** Every node after all of its descendants. */
  bottomUp(): number[] {
    const order: number[] = [];
    const stack = this.profile.nodes.filter((n) => !this.parent.has(n.id)).map((n) => n.id);
    while (stack.length) {
      const id = stack.pop()!;
      order.push(id);
      for (const c of this.byId.get(id)!.children ?? []) stack.push(c);
    }
    return order.reverse();
  }

  /** Each node's busy time with its callees', not counting the callees past a boundary frame. */
  ownTimes(): Map<number, number> {
    const own = new Map<number, number>();
    for (const id of this.bottomUp()) {
      let sum = this.idle.has(id) ? 0 : (this.self.get(id) ?? 0);
      for (const c of this.byId.get(id)!.children ?? []) if (!isBoundary(this.frame(c))) sum += own.get(c) ?? 0;
      own.set(id, sum);
    }
    return own;
  }

  /** Whether the nearest ancestor that matches `inside` or is a boundary matches `inside`. */
  within(id: number, inside: (frame: Frame) => boolean): boolean {
    for (let p = this.parent.get(id); p !== undefined; p = this.parent.get(p)) {
      if (isBoundary(this.frame(p))) return false;
      if (inside(this.frame(p))) return true;
    }
    return false;
  }
}

function selfTimes(tree: CallTree): Pick<Profile, 'busyUs' | 'selfByFn' | 'selfByPlace'> {
  let busyUs = 0;
  const selfByFn = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  for (const [id, us] of tree.self) {
    if (tree.idle.has(id)) continue;
    busyUs += us;
    const frame = tree.frame(id);
    selfByFn.set(fnKey(frame), (selfByFn.get(fnKey(frame)) ?? 0) + us);
    selfByPlace.set(placeOf(frame), (selfByPlace.get(placeOf(frame)) ?? 0) + us);
  }
  return { busyUs, selfByFn, selfByPlace };
}

/** wx-session's frames with their callees: in all (outermost frames only), and per function (its outermost occurrence). */
function wxTimes(tree: CallTree): Pick<Profile, 'wxInclusiveUs' | 'wxInclByFn'> {
  const own = tree.ownTimes();
  let wxInclusiveUs = 0;
  const wxInclByFn = new Map<string, number>();
  for (const node of tree.profile.nodes) {
    if (!isWx(node.callFrame)) continue;
    const t = own.get(node.id) ?? 0;
    if (!tree.within(node.id, isWx)) wxInclusiveUs += t;
    const k = fnKey(node.callFrame);
    if (!tree.within(node.id, (frame) => fnKey(frame) === k)) wxInclByFn.set(k, (wxInclByFn.get(k) ?? 0) + t);
  }
  return { wxInclusiveUs, wxInclByFn };
}

function readProfile(file: string, variant: string, requests: number, rps: number): Profile {
  const tree = new CallTree(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  return { variant, requests, rps, ...selfTimes(tree), ...wxTimes(tree) };
}

// ---------------------------------------------------------------------------------------------
// Taking a profile

/** How long the server may take to start the profiler, or to stop it and write the profile. */
const PROFILER_MS = 30_000;

/** One load run under the V8 profiler in a fresh server child, after an unprofiled warmup run. */
export async function profileVariant(spec: VariantSpec, upstreams: Upstreams, rig: Rig): Promise<Profile> {
  const dir = mkdtempSync(join(os.tmpdir(), 'wxs-bench-prof-'));
  const file = join(dir, `${spec.name}.cpuprofile`);
  try {
    const server = await startServer(spec, upstreams, { BENCH_PROFILE_FILE: file });
    try {
      await runVariant(server, rig, 1.5, -1); // warm the JIT first, not profiled
      await sleep(PAUSE_MS);
      // SIGUSR2 starts the profiler, the next one stops it: the server prints a line after each.
      server.child.process.kill('SIGUSR2');
      await server.child.waitForJson((line) => line.profiling !== undefined, PROFILER_MS);
      const sample = await runVariant(server, rig, PROFILE_DURATION, -1);
      server.child.process.kill('SIGUSR2');
      const { profiled } = await server.child.waitForJson<{ profiled: boolean }>((line) => line.profiled !== undefined, PROFILER_MS);
      if (!profiled) throw new Error('the profiler failed');
      return { ...readProfile(file, spec.name, sample.ok, sample.rps), procUsPerReq: sample.cpuUsPerReq };
    } finally {
      await server.child.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting a profile against its baseline's, in µs of server CPU per request

const signed = (n: number, digits = 1) => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)}`;
const perRequest = (prof: Profile, us: number) => us / Math.max(1, prof.requests);

interface Row {
  key: string;
  /** µs per request in the profiled variant, and in its baseline (0 without one). */
  v: number;
  b: number;
}

function rows(p: Profile, base: Profile | undefined, pick: (prof: Profile) => Map<string, number>): Row[] {
  const keys = new Set([...pick(p).keys(), ...(base ? pick(base).keys() : [])]);
  return [...keys].map((key) => ({ key, v: perRequest(p, pick(p).get(key) ?? 0), b: base ? perRequest(base, pick(base).get(key) ?? 0) : 0 }));
}

function summaryLines(p: Profile, base: Profile | undefined): string[] {
  const pUs = perRequest(p, p.busyUs);
  const bUs = base ? perRequest(base, base.busyUs) : undefined;
  return [
    `### ${p.variant}${base ? ` against ${base.variant}` : ''}`,
    '',
    `Server CPU per request: **${pUs.toFixed(1)} µs** (${fmt(p.rps)} req/s while profiled)` +
      (base && bUs !== undefined ? ` vs ${bUs.toFixed(1)} µs for ${base.variant} (${fmt(base.rps)} req/s): **${signed(pUs - bUs)} µs per request** (${signed((100 * (pUs - bUs)) / bUs, 0)}%).` : '.') +
      (p.procUsPerReq !== undefined ? ` From /proc (all threads) during the same runs: ${p.procUsPerReq.toFixed(1)} µs${base?.procUsPerReq !== undefined ? ` vs ${base.procUsPerReq.toFixed(1)} µs` : ''}.` : ''),
    `wx-session's own cost (its frames in src/ and adapters/ and what they call, not counting the framework and route code its next()/end wrapper hands back to): **${perRequest(p, p.wxInclusiveUs).toFixed(1)} µs per request** (${((100 * p.wxInclusiveUs) / p.busyUs).toFixed(1)}% of busy time).`,
    '',
  ];
}

function placeLines(p: Profile, base: Profile | undefined, placeRows: Row[]): string[] {
  const md = [
    'Self time by place, µs per request:',
    '',
    base ? `| place | ${base.variant} | ${p.variant} | difference |` : `| place | ${p.variant} |`,
    base ? '|---|---:|---:|---:|' : '|---|---:|',
  ];
  for (const r of placeRows.slice(0, 14)) md.push(base ? `| ${r.key} | ${r.b.toFixed(2)} | ${r.v.toFixed(2)} | ${signed(r.v - r.b, 2)} |` : `| ${r.key} | ${r.v.toFixed(2)} |`);
  md.push('');
  return md;
}

function functionLines(p: Profile, base: Profile | undefined): string[] {
  const fnRows = rows(p, base, (prof) => prof.selfByFn).sort((x, y) => y.v - y.b - (x.v - x.b));
  const md = [
    base ? `Functions whose self time grew most over ${base.variant}, µs per request:` : 'Top self time, µs per request:',
    '',
    base ? `| function | where | ${base.variant} | ${p.variant} | difference |` : '| function | where | µs |',
    base ? '|---|---|---:|---:|---:|' : '|---|---|---:|',
  ];
  for (const r of fnRows.slice(0, 15)) {
    const { name, where } = splitKey(r.key);
    md.push(base ? `| ${name} | ${where} | ${r.b.toFixed(2)} | ${r.v.toFixed(2)} | ${signed(r.v - r.b, 2)} |` : `| ${name} | ${where} | ${r.v.toFixed(2)} |`);
  }
  md.push('', 'wx-session functions with what they call (down to the framework/route code), µs per request:', '', '| function | where | with callees | self |', '|---|---|---:|---:|');
  for (const [k, us] of [...p.wxInclByFn].sort((x, y) => y[1] - x[1]).slice(0, 14)) {
    const { name, where } = splitKey(k);
    md.push(`| ${name} | ${where} | ${perRequest(p, us).toFixed(2)} | ${perRequest(p, p.selfByFn.get(k) ?? 0).toFixed(2)} |`);
  }
  md.push('');
  return md;
}

/** A variant's profile against its baseline's: markdown for "Profiles", and a gist for the target's note. */
export function profileReport(p: Profile, base: Profile | undefined): { md: string[]; gist: string } {
  const placeRows = rows(p, base, (prof) => prof.selfByPlace)
    .sort((x, y) => (base ? y.v - y.b - (x.v - x.b) : y.v - x.v))
    .filter((r) => r.v >= 0.05 || r.b >= 0.05);
  const md = [...summaryLines(p, base), ...placeLines(p, base, placeRows), ...functionLines(p, base)];
  const pUs = perRequest(p, p.busyUs);
  const wxUs = perRequest(p, p.wxInclusiveUs).toFixed(1);
  if (!base) return { md, gist: `profile: ${pUs.toFixed(1)} µs/request, wx-session frames ${wxUs} µs/request` };
  const bUs = perRequest(base, base.busyUs);
  const grew = placeRows.filter((r) => r.v - r.b > 0.1).slice(0, 4).map((r) => `${r.key} ${signed(r.v - r.b)}`);
  return {
    md,
    gist: `profile: ${signed(pUs - bUs)} µs of main-thread CPU per request over ${base.variant} (${bUs.toFixed(1)} → ${pUs.toFixed(1)} µs); wx-session's own frames and callees ${wxUs} µs/request; grew most: ${grew.join(', ') || 'nothing above 0.1'} (µs/request)`,
  };
}
