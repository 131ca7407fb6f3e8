import type { ControllerSettings } from '../config/sections/controller.ts';
import { MixscaleError } from '../core/errors.ts';
import type { LatencyHistogram } from '../core/histogram.ts';
import type { SizePmf } from '../core/sizes.ts';
import type { Ms } from '../core/types.ts';
import type { ClassLoad, Estimator, LoadObservation } from './types.ts';

export type ForecastKind = 'none' | 'seasonal-naive' | 'holt';

export interface EstimatorOptions {
  /** Averaging window of the stable estimate (Knative: 60 s). */
  readonly stableWindowMs: Ms;
  /** Averaging window of the panic estimate (Knative: 6 s). */
  readonly panicWindowMs: Ms;
  /** Enter panic mode when the panic-window rate reaches this multiple of the stable rate (Knative: 2). */
  readonly panicThreshold: number;
  /** Short-horizon forecast added on top: plan for the larger of now and the forecast. */
  readonly forecast: ForecastKind;
  /** How far ahead to forecast: about the boot time, so capacity is ready when the load arrives. */
  readonly horizonMs: Ms;
  /** Season of seasonal-naive (a day, for diurnal load). */
  readonly seasonMs: Ms;
  /** Holt's smoothing of level and trend. */
  readonly holtAlpha: number;
  readonly holtBeta: number;
}

const DEFAULT_ESTIMATOR_OPTIONS: EstimatorOptions = {
  stableWindowMs: 60_000,
  panicWindowMs: 6_000,
  panicThreshold: 2,
  forecast: 'none',
  horizonMs: 120_000,
  seasonMs: 86_400_000,
  holtAlpha: 0.5,
  holtBeta: 0.2,
};

interface Sample {
  readonly endMs: Ms;
  readonly windowMs: Ms;
  readonly rps: number;
}

interface ClassHistory {
  samples: Sample[];
  sizes: SizePmf;
  panicUntilMs: Ms;
  level: number;
  trend: number;
  lastHoltMs: Ms;
}

/**
 * Turns raw windowed arrival rates into the load to plan for, per class, the way Knative's
 * autoscaler does: a rate averaged over a 60 s stable window, and over a 6 s panic window; when
 * the panic rate reaches twice the stable rate (weighing the panic window as Knative does, even
 * when the observed windows are as long as the stable one) the estimator panics and, for a stable window
 * from the last trigger, plans for the larger of the two (react to bursts at once, scale down
 * only on the slow average). Optionally it looks ahead by about a boot time with a seasonal-
 * naive forecast (same time one season ago, scaled to today's level) or Holt's linear trend,
 * and plans for the larger of now and then.
 */
export class LoadEstimator implements Estimator {
  readonly options: EstimatorOptions;
  private readonly history = new Map<string, ClassHistory>();

  constructor(options: Partial<EstimatorOptions> = {}) {
    this.options = { ...DEFAULT_ESTIMATOR_OPTIONS, ...options };
    const o = this.options;
    if (!(o.panicWindowMs > 0 && o.stableWindowMs >= o.panicWindowMs)) {
      throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `estimator: need 0 < panicWindow (${o.panicWindowMs} ms) ≤ stableWindow (${o.stableWindowMs} ms)`);
    }
  }

  /** Whether a class is in panic mode at `nowMs`. */
  panicking(name: string, nowMs: Ms): boolean {
    const h = this.history.get(name);
    return h !== undefined && nowMs < h.panicUntilMs;
  }

  estimate(observed: LoadObservation, nowMs: Ms): LoadObservation {
    const o = this.options;
    const classes: ClassLoad[] = observed.classes.map((c) => {
      let h = this.history.get(c.name);
      if (h === undefined) {
        h = { samples: [], sizes: c.sizes, panicUntilMs: -Infinity, level: c.rps, trend: 0, lastHoltMs: observed.atMs };
        this.history.set(c.name, h);
      }
      h.samples.push({ endMs: observed.atMs, windowMs: Math.max(1, observed.windowMs), rps: c.rps });
      if (c.sizes.sizes.length > 0) h.sizes = c.sizes;
      const keepMs = Math.max(o.stableWindowMs, o.forecast === 'seasonal-naive' ? o.seasonMs + o.stableWindowMs + o.horizonMs : 0);
      while (h.samples.length > 1 && h.samples[0]!.endMs < observed.atMs - keepMs) h.samples.shift();

      const stable = average(h.samples, observed.atMs - o.stableWindowMs, observed.atMs);
      const panic = average(h.samples, observed.atMs - o.panicWindowMs, observed.atMs);
      // Knative compares the panic rate with the stable one, in which the panic window weighs
      // panic/stable (a tenth). With the 30-60 s windows a router snapshot or a tick gives, the
      // newest window would weigh a half or all of the stable rate (panic ≥ 2 × stable could
      // only fire after a window of nothing), so the stable rate it is compared with is rebuilt
      // with Knative's weights: the windows before the panic window, and the panic rate.
      const before = average(
        h.samples.filter((x) => x.endMs <= observed.atMs - o.panicWindowMs),
        observed.atMs - o.stableWindowMs,
        observed.atMs,
      );
      const share = o.panicWindowMs / o.stableWindowMs;
      if (before > 0 && panic >= o.panicThreshold * ((1 - share) * before + share * panic)) h.panicUntilMs = nowMs + o.stableWindowMs;
      let rps = nowMs < h.panicUntilMs ? Math.max(stable, panic) : stable;

      const ahead = this.forecast(h, observed.atMs, stable);
      if (ahead > rps) rps = ahead;
      // The observed latency passes through unread: a source may build it only when a policy asks.
      if (!('latency' in c)) return { name: c.name, rps, sizes: h.sizes };
      return {
        name: c.name,
        rps,
        sizes: h.sizes,
        get latency(): LatencyHistogram {
          return c.latency as LatencyHistogram;
        },
      };
    });
    return { atMs: observed.atMs, windowMs: o.stableWindowMs, classes };
  }

  private forecast(h: ClassHistory, atMs: Ms, stable: number): number {
    const o = this.options;
    if (o.forecast === 'holt') {
      const dt = Math.max(1, atMs - h.lastHoltMs) / 60_000;
      if (atMs > h.lastHoltMs) {
        const prev = h.level;
        h.level = o.holtAlpha * stable + (1 - o.holtAlpha) * (h.level + h.trend * dt);
        h.trend = o.holtBeta * ((h.level - prev) / dt) + (1 - o.holtBeta) * h.trend;
        h.lastHoltMs = atMs;
      }
      return Math.max(0, h.level + h.trend * (o.horizonMs / 60_000));
    }
    if (o.forecast === 'seasonal-naive') {
      const then = atMs - o.seasonMs;
      if (h.samples.length === 0 || h.samples[0]!.endMs > then - o.stableWindowMs) return 0;
      const base = average(h.samples, then - o.stableWindowMs, then);
      const ahead = average(h.samples, then + o.horizonMs - o.stableWindowMs, then + o.horizonMs);
      // Last season's change over the horizon, applied to today's level.
      return base > 0 ? (stable * ahead) / base : ahead;
    }
    return 0;
  }
}

/** Time-weighted mean rate of the samples' windows overlapping [fromMs, toMs]. */
function average(samples: readonly Sample[], fromMs: Ms, toMs: Ms): number {
  let w = 0;
  let s = 0;
  for (let i = samples.length - 1; i >= 0; i--) {
    const x = samples[i]!;
    const start = x.endMs - x.windowMs;
    if (x.endMs <= fromMs) break;
    const overlap = Math.min(x.endMs, toMs) - Math.max(start, fromMs);
    if (overlap <= 0) continue;
    w += overlap;
    s += overlap * x.rps;
  }
  return w > 0 ? s / w : 0;
}

/** The estimator `controller.estimator` configures (undefined when omitted: plan for what was observed). */
export function estimatorFromConfig(e: ControllerSettings['estimator']): LoadEstimator | undefined {
  if (e === undefined) return undefined;
  return new LoadEstimator({ stableWindowMs: e.stableWindow, panicWindowMs: e.panicWindow, panicThreshold: e.panicThreshold, forecast: e.forecast, horizonMs: e.horizon, seasonMs: e.season });
}
