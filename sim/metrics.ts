import type { ClassLoad, LoadObservation, MetricsSource, Observation } from '../src/control/types.ts';
import type { LatencyHistogram } from '../src/core/histogram.ts';
import { LatencyCounts } from './latency-counts.ts';
import type { Rng } from '../src/core/rng.ts';
import { pmfFromSamples, type SizePmf } from '../src/core/sizes.ts';
import type { Ms, RequestClass } from '../src/core/types.ts';

const RESERVOIR = 1024;

/** What one class saw since the last observation. */
class ClassWindow {
  arrivals = 0;
  latency = new LatencyCounts();
  /** Last window's counts, reused for the next window once its observation has expired. */
  spare = new LatencyCounts();
  /** Ends the previous observation's claim on `spare`. */
  expire: () => void = () => {};
  readonly sizes = new Float64Array(RESERVOIR);
  seen = 0;
}

/**
 * The simulator's MetricsSource: what a router snapshot would report, fed per request by the
 * recorder. Each observe() covers the time since the previous one (a control period) and
 * starts a new window: per-class arrival rate, a size distribution (reservoir sample) and
 * latency, and per-type busy fraction (busy slot-time over available slot-time).
 */
export class SimMetrics implements MetricsSource {
  private readonly classes: readonly RequestClass[];
  private readonly windows: ClassWindow[];
  private readonly rng: Rng;
  private readonly types: readonly string[];
  private readonly busyMs: Float64Array;
  private readonly slotMs: Float64Array;
  private readonly activeSlots: Float64Array;
  private slotsAtMs: Ms;
  private sinceMs: Ms;
  private readonly prior: LoadObservation | undefined;

  /**
   * `prior`: the load reported while no request has arrived yet (a warm-up before the trace
   * starts, as if the service had been running): without it the first plan would be for no load.
   */
  constructor(opts: { classes: readonly RequestClass[]; types: readonly string[]; rng: Rng; startMs: Ms; prior?: LoadObservation }) {
    this.classes = opts.classes;
    this.windows = opts.classes.map(() => new ClassWindow());
    this.rng = opts.rng;
    this.types = opts.types;
    this.busyMs = new Float64Array(opts.types.length);
    this.slotMs = new Float64Array(opts.types.length);
    this.activeSlots = new Float64Array(opts.types.length);
    this.slotsAtMs = opts.startMs;
    this.sinceMs = opts.startMs;
    this.prior = opts.prior;
  }

  arrival(cls: number, size: number): void {
    const w = this.windows[cls]!;
    w.arrivals++;
    // Reservoir sampling (Vitter's R): every size in the window equally likely to be kept.
    const k = w.seen++;
    if (k < RESERVOIR) w.sizes[k] = size;
    else {
      const j = Math.floor(this.rng.next() * (k + 1));
      if (j < RESERVOIR) w.sizes[j] = size;
    }
  }

  finished(cls: number, latencyMs: Ms): void {
    this.windows[cls]!.latency.record(latencyMs);
  }

  /** Service time spent on a type (counted when service starts). */
  busy(typeIndex: number, ms: Ms): void {
    this.busyMs[typeIndex]! += ms;
  }

  /** Serving slots of a type changed by `delta` at `nowMs` (a node joined or left). */
  slots(typeIndex: number, delta: number, nowMs: Ms): void {
    this.accrueSlots(nowMs);
    this.activeSlots[typeIndex]! += delta;
  }

  async observe(nowMs: Ms): Promise<Observation> {
    const windowMs = Math.max(1, nowMs - this.sinceMs);
    this.accrueSlots(nowMs);
    const anyArrival = this.windows.some((w) => w.arrivals > 0);
    let load: LoadObservation;
    if (!anyArrival && this.prior !== undefined && nowMs <= 0) {
      load = { ...this.prior, atMs: nowMs };
    } else {
      const classes: ClassLoad[] = this.classes.map((c, i) => {
        const w = this.windows[i]!;
        // Built on first read: policies that never look at latency cost nothing for it.
        // The previous observation gives up its counts: read later, it reads as empty.
        w.expire();
        const counts = w.latency;
        w.latency = w.spare;
        w.latency.clear();
        w.spare = counts;
        let latency: LatencyHistogram | undefined;
        let expired = false;
        w.expire = () => {
          expired = true;
        };
        return {
          name: c.name,
          rps: (w.arrivals * 1000) / windowMs,
          sizes: this.sizePmf(w),
          get latency(): LatencyHistogram {
            if (latency === undefined) latency = expired ? new LatencyCounts().take() : counts.take();
            return latency;
          },
        };
      });
      load = { atMs: nowMs, windowMs, classes };
    }
    const utilization: Record<string, number> = {};
    this.types.forEach((t, i) => {
      const cap = this.slotMs[i]!;
      if (cap > 0) utilization[t] = Math.min(1, this.busyMs[i]! / cap);
    });
    for (const w of this.windows) {
      w.arrivals = 0;
      w.seen = 0;
      if (w.latency.count > 0) w.latency.clear();
    }
    this.busyMs.fill(0);
    this.slotMs.fill(0);
    this.sinceMs = nowMs;
    return { load, utilization };
  }

  private sizePmf(w: ClassWindow): SizePmf {
    return pmfFromSamples(w.sizes.subarray(0, Math.min(w.seen, RESERVOIR)), 32);
  }

  private accrueSlots(nowMs: Ms): void {
    const dt = nowMs - this.slotsAtMs;
    if (dt > 0) for (let i = 0; i < this.types.length; i++) this.slotMs[i]! += this.activeSlots[i]! * dt;
    this.slotsAtMs = Math.max(this.slotsAtMs, nowMs);
  }
}
