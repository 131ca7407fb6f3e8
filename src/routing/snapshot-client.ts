import { request } from 'undici';
import type { ClassLoad, MetricsSource, Observation } from '../control/types.ts';
import { MixscaleError } from '../core/errors.ts';
import { LatencyHistogram } from '../core/histogram.ts';
import type { SizePmf } from '../core/sizes.ts';
import type { Ms } from '../core/types.ts';
import type { RouterSnapshot } from './snapshot.ts';

/** Most points a class's size distribution keeps (the performance model's cost grows with it). */
const SIZE_BINS = 64;

/**
 * Collapses weighted size points into at most `bins` equal-mass points, each the weighted
 * mean of its share, so the planner sees the observed mixture at bounded cost.
 */
export function pmfFromCounts(points: ReadonlyArray<readonly [number, number]>, bins = SIZE_BINS): SizePmf {
  const pts = points.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = pts.reduce((a, [, n]) => a + n, 0);
  if (total === 0) return { sizes: new Float64Array(0), weights: new Float64Array(0) };
  if (pts.length <= bins) return { sizes: Float64Array.from(pts, ([s]) => s), weights: Float64Array.from(pts, ([, n]) => n / total) };
  const sizes: number[] = [];
  const weights: number[] = [];
  const per = total / bins;
  let mass = 0;
  let sum = 0;
  for (const [s, n] of pts) {
    mass += n;
    sum += s * n;
    if (mass >= per) {
      sizes.push(sum / mass);
      weights.push(mass / total);
      mass = 0;
      sum = 0;
    }
  }
  if (mass > 0) {
    sizes.push(sum / mass);
    weights.push(mass / total);
  }
  return { sizes: Float64Array.from(sizes), weights: Float64Array.from(weights) };
}

/** Turns a snapshot into what a control tick observes. */
export function observationFromSnapshot(s: RouterSnapshot): Observation {
  const classes: ClassLoad[] = s.classes.map((c) => ({ name: c.name, rps: c.rps, sizes: pmfFromCounts(c.sizes), latency: LatencyHistogram.decode(c.latency) }));
  const busy: Record<string, { busy: number; n: number }> = {};
  for (const p of s.pools) {
    if (p.backends === 0) continue;
    const e = (busy[p.type] ??= { busy: 0, n: 0 });
    e.busy += p.utilization * p.backends;
    e.n += p.backends;
  }
  const utilization: Record<string, number> = {};
  for (const [type, e] of Object.entries(busy)) utilization[type] = e.busy / e.n;
  return { load: { atMs: s.atMs, windowMs: s.windowMs, classes }, utilization };
}

/**
 * Checks that a parsed answer is a snapshot the planner can use, naming the first field that is
 * not: a rate that is negative or not a number would be planned for as load (a huge, negative or
 * NaN rate), and a class of the controller's config that the router does not report would be
 * planned for as no load at all (a router running another config). Either is missing data.
 */
function checkSnapshot(s: unknown, classes: readonly string[] | undefined): string | undefined {
  if (s === null || typeof s !== 'object') return 'is not a mixscale snapshot (expected atMs, windowMs, classes, pools)';
  const o = s as Partial<RouterSnapshot>;
  if (!Array.isArray(o.classes) || !Array.isArray(o.pools) || typeof o.windowMs !== 'number') return 'is not a mixscale snapshot (expected atMs, windowMs, classes, pools)';
  if (!Number.isFinite(o.windowMs) || o.windowMs <= 0) return `is not usable: windowMs: expected a positive number of ms, got ${JSON.stringify(o.windowMs)}`;
  for (const [k, c] of o.classes.entries()) {
    const at = `classes[${k}]`;
    if (c === null || typeof c !== 'object' || typeof c.name !== 'string') return `is not usable: ${at}.name: expected a class name`;
    if (typeof c.rps !== 'number' || !Number.isFinite(c.rps) || c.rps < 0) return `is not usable: ${at}.rps: expected a rate ≥ 0, got ${JSON.stringify(c.rps)}`;
    if (!Array.isArray(c.sizes) || !(c.sizes as unknown[]).every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0))) return `is not usable: ${at}.sizes: expected [size, count] pairs`;
    if (typeof c.latency !== 'string') return `is not usable: ${at}.latency: expected an encoded histogram`;
  }
  for (const [k, p] of o.pools.entries()) {
    if (p === null || typeof p !== 'object' || typeof p.type !== 'string') return `is not usable: pools[${k}].type: expected an instance type`;
    if (typeof p.backends !== 'number' || !(p.backends >= 0) || typeof p.utilization !== 'number' || !(p.utilization >= 0 && p.utilization <= 1)) return `is not usable: pools[${k}]: expected backends ≥ 0 and utilization in [0, 1]`;
  }
  const reported = new Set(o.classes.map((c) => c.name));
  const missing = (classes ?? []).filter((c) => !reported.has(c));
  if (missing.length > 0) return `reports no class ${missing.map((c) => JSON.stringify(c)).join(', ')} of this config (classes: ${[...reported].join(', ') || 'none'}): is the router running another config?`;
  return undefined;
}

export interface RouterSnapshotSourceOptions {
  readonly routerUrl: string;
  /** Longest a snapshot may take to arrive, answer and body together (default 10 s). */
  readonly timeoutMs?: number;
  /** The classes the controller plans for: a snapshot that lacks one is missing data. */
  readonly classes?: readonly string[];
  /**
   * Shortest span a snapshot may cover to be planned from (default 0). A router that started
   * moments ago reports the few ms it has seen: a rate from them is noise (one request in 5 ms
   * reads as 200 rps), so such a snapshot is missing data until the router has seen this long.
   */
  readonly minWindowMs?: number;
}

/** MetricsSource reading the router's GET /v1/snapshot (windowed load, HDR latency per class). */
export class RouterSnapshotSource implements MetricsSource {
  private readonly url: string;

  constructor(private readonly o: RouterSnapshotSourceOptions) {
    this.url = `${o.routerUrl.replace(/\/+$/, '')}/v1/snapshot`;
  }

  /** The router stamps the snapshot with its own clock; `nowMs` is the caller's, kept for the interface. */
  async observe(_nowMs: Ms): Promise<Observation> {
    const timeout = this.o.timeoutMs ?? 10_000;
    let body: unknown;
    // One deadline for the whole exchange: undici's own timeouts are per wait (headers, then each
    // body chunk), so an answer that trickles in would hold the tick, and every later one, for good.
    const signal = AbortSignal.timeout(timeout);
    try {
      const res = await request(this.url, { headersTimeout: timeout, bodyTimeout: timeout, signal });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`answered ${res.statusCode}`);
      }
      body = await res.body.json();
    } catch (e) {
      const why = signal.aborted ? `no whole answer within ${timeout} ms` : (e as Error).message;
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} failed: ${why}`, { url: this.url }, { cause: e });
    }
    const bad = checkSnapshot(body, this.o.classes);
    if (bad !== undefined) throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} ${bad}`, { url: this.url });
    const s = body as RouterSnapshot;
    const minWindowMs = this.o.minWindowMs ?? 0;
    if (s.windowMs < minWindowMs) {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} covers only ${Math.round(s.windowMs)} ms (under ${minWindowMs} ms): the router started moments ago, too little to plan from`, { url: this.url });
    }
    try {
      return observationFromSnapshot(s);
    } catch (e) {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} could not be read: ${(e as Error).message}`, { url: this.url }, { cause: e });
    }
  }
}
