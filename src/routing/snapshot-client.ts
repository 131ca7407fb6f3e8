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

/** MetricsSource reading the router's GET /v1/snapshot (windowed load, HDR latency per class). */
export class RouterSnapshotSource implements MetricsSource {
  private readonly url: string;

  constructor(private readonly o: { routerUrl: string; timeoutMs?: number }) {
    this.url = `${o.routerUrl.replace(/\/+$/, '')}/v1/snapshot`;
  }

  /** The router stamps the snapshot with its own clock; `nowMs` is the caller's, kept for the interface. */
  async observe(_nowMs: Ms): Promise<Observation> {
    const timeout = this.o.timeoutMs ?? 10_000;
    let body: unknown;
    try {
      const res = await request(this.url, { headersTimeout: timeout, bodyTimeout: timeout });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`answered ${res.statusCode}`);
      }
      body = await res.body.json();
    } catch (e) {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} failed: ${(e as Error).message}`, { url: this.url }, { cause: e });
    }
    const s = body as Partial<RouterSnapshot> | null;
    if (s === null || typeof s !== 'object' || !Array.isArray(s.classes) || !Array.isArray(s.pools) || typeof s.windowMs !== 'number') {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} is not a mixscale snapshot (expected atMs, windowMs, classes, pools)`, { url: this.url });
    }
    try {
      return observationFromSnapshot(s as RouterSnapshot);
    } catch (e) {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router snapshot ${this.url} could not be read: ${(e as Error).message}`, { url: this.url }, { cause: e });
    }
  }
}
