import { request } from 'undici';
import { z } from 'zod';
import { formatPath, valueAt } from '../config/load.ts';
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
function observationFromSnapshot(s: RouterSnapshot): Observation {
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
 * What the planner reads of a snapshot (other fields pass). A rate that is negative or not a
 * number would be planned for as load (a huge, negative or NaN rate): such an answer is missing
 * data, named by its first bad field.
 */
const usableSnapshot = z.looseObject({
  windowMs: z.number({ error: 'expected a positive number of ms' }).positive({ error: 'expected a positive number of ms' }),
  classes: z.array(
    z.looseObject({
      name: z.string({ error: 'expected a class name' }),
      rps: z.number({ error: 'expected a rate ≥ 0' }).min(0, { error: 'expected a rate ≥ 0' }),
      sizes: z.array(z.tuple([z.number().min(0), z.number().min(0)]), { error: 'expected [size, count] pairs' }),
      latency: z.string({ error: 'expected an encoded histogram' }),
    }),
  ),
  pools: z.array(
    z.looseObject({
      type: z.string({ error: 'expected an instance type' }),
      backends: z.number({ error: 'expected a count ≥ 0' }).min(0, { error: 'expected a count ≥ 0' }),
      utilization: z.number({ error: 'expected a busy fraction in [0, 1]' }).min(0, { error: 'expected a busy fraction in [0, 1]' }).max(1, { error: 'expected a busy fraction in [0, 1]' }),
    }),
  ),
});

/**
 * Why a parsed answer is not a snapshot the planner can use, or undefined when it is. A class of
 * the controller's config that the router does not report would be planned for as no load at all
 * (a router running another config): missing data too.
 */
function checkSnapshot(s: unknown, classes: readonly string[] | undefined): string | undefined {
  if (s === null || typeof s !== 'object' || !Array.isArray((s as Partial<RouterSnapshot>).classes) || !Array.isArray((s as Partial<RouterSnapshot>).pools)) {
    return 'is not a mixscale snapshot (expected atMs, windowMs, classes, pools)';
  }
  const r = usableSnapshot.safeParse(s);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return `is not usable: ${formatPath(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}, got ${JSON.stringify(valueAt(s, issue.path))}`;
  }
  const reported = new Set(r.data.classes.map((c) => c.name));
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
