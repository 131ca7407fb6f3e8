import { LatencyHistogram } from '../src/core/histogram.ts';
import type { Ms, RequestClass } from '../src/core/types.ts';
import { LatencyCounts } from './latency-counts.ts';
import type { SimMetrics } from './metrics.ts';

/** Why a request did not complete. */
const DROP_REASONS = ['no-backend', 'deadline', 'overloaded', 'full', 'terminated', 'unprofiled'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * One report window: load, latency and the fleet over [tMs, tMs + spanMs). Every window is
 * `sim.window` long except the last, which ends at the end of the run (shorter, or longer by the
 * drain after the last arrival, which never makes a window of its own).
 */
export interface WindowRecord {
  readonly tMs: Ms;
  readonly spanMs: Ms;
  /** Arrivals in the window per second of its span (of the last window: not counting the drain folded into it). */
  readonly offeredRps: number;
  readonly completed: number;
  readonly dropped: number;
  /** Latency percentiles of the requests completed in the window; null when none completed. */
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  /** Fraction of requests finished (or dropped) in the window that met their class's SLO; null when none finished or was dropped. */
  readonly attainment: number | null;
  /** Billed instances per type at the window's start (pending + running + draining). */
  readonly mix: Readonly<Record<string, number>>;
  /** Billed $/h at the window's start. */
  readonly usdPerHour: number;
  /** Mean billed $/h over the window (spend over the window ÷ its span). */
  readonly meanUsdPerHour: number;
  /** The budget in force at the window's start. */
  readonly budgetUsdPerHour: number;
}

/** The fleet at an instant. */
export interface FleetSample {
  readonly mix: Readonly<Record<string, number>>;
  readonly usdPerHour: number;
  readonly budgetUsdPerHour: number;
  /** ∫ billed $/h dt from the start of the simulation to this instant ($/h · ms). */
  readonly usdPerHourMs: number;
}

const NO_FLEET: FleetSample = { mix: {}, usdPerHour: 0, budgetUsdPerHour: 0, usdPerHourMs: 0 };

/** What a window counted, and the span its offered load is over. */
interface WindowTally {
  readonly arrivals: number;
  readonly completed: number;
  readonly dropped: number;
  readonly within: number;
  readonly startMs: Ms;
  readonly offeredSpanMs: Ms;
  /** The fleet at the window's start. */
  readonly fleet: FleetSample;
}

class ClassTally {
  arrivals = 0;
  completed = 0;
  dropped = 0;
  withinSlo = 0;
  /** Complete once finish() has drained `counts` into it. */
  readonly latency = new LatencyHistogram();
  readonly counts = new LatencyCounts();
}

/**
 * One record per finished or dropped request, into HDR histograms per class and per type and
 * per time window, plus counters. It also keeps the time-integral of requests in the system,
 * so Little's law (L = λW) can be checked against the recorded latencies.
 */
export class Recorder {
  readonly classes: readonly RequestClass[];
  readonly types: readonly string[];
  readonly perClass: ClassTally[];
  readonly perType: LatencyHistogram[];
  private readonly typeCounts: LatencyCounts[];
  readonly drops: Record<DropReason, number>;
  readonly windows: WindowRecord[] = [];
  readonly windowMs: Ms;
  private readonly sloMs: Float64Array;
  private readonly metrics: SimMetrics | undefined;
  // The current window (its percentiles are read straight from the bucket counts).
  private winCounts = new LatencyCounts();
  private winArrivals = 0;
  private winCompleted = 0;
  private winDropped = 0;
  private winWithin = 0;
  private winStart: Ms;
  // The window closed last, as counted: the run's end may fold its drain into it.
  private lastCounts = new LatencyCounts();
  private last: WindowTally = { arrivals: 0, completed: 0, dropped: 0, within: 0, startMs: 0, offeredSpanMs: 0, fleet: NO_FLEET };
  /** The fleet at the start of the open window. */
  private openFleet: FleetSample = NO_FLEET;
  // Little's law: area under N(t) and total time in system of departed requests.
  private inSystem = 0;
  private areaAtMs: Ms;
  private area = 0;
  private dropSojournMs = 0;
  private departed = 0;

  constructor(opts: { classes: readonly RequestClass[]; types: readonly string[]; windowMs: Ms; startMs: Ms; metrics?: SimMetrics }) {
    this.classes = opts.classes;
    this.types = opts.types;
    this.perClass = opts.classes.map(() => new ClassTally());
    this.perType = opts.types.map(() => new LatencyHistogram());
    this.typeCounts = opts.types.map(() => new LatencyCounts());
    this.drops = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
    this.windowMs = opts.windowMs;
    this.sloMs = Float64Array.from(opts.classes, (c) => c.sloMs);
    this.metrics = opts.metrics;
    this.winStart = opts.startMs;
    this.areaAtMs = opts.startMs;
  }

  arrival(cls: number, size: number, nowMs: Ms): void {
    this.perClass[cls]!.arrivals++;
    this.winArrivals++;
    this.metrics?.arrival(cls, size);
    this.area += this.inSystem * (nowMs - this.areaAtMs);
    this.areaAtMs = nowMs;
    this.inSystem++;
  }

  completed(cls: number, typeIndex: number, arrivalMs: Ms, nowMs: Ms): void {
    const latency = nowMs - arrivalMs;
    const c = this.perClass[cls]!;
    c.completed++;
    c.counts.record(latency);
    this.typeCounts[typeIndex]!.record(latency);
    this.winCounts.record(latency);
    this.winCompleted++;
    if (latency <= this.sloMs[cls]!) {
      c.withinSlo++;
      this.winWithin++;
    }
    this.metrics?.finished(cls, latency);
    this.depart(nowMs);
  }

  dropped(cls: number, reason: DropReason, arrivalMs: Ms, nowMs: Ms): void {
    this.perClass[cls]!.dropped++;
    this.drops[reason]++;
    this.winDropped++;
    this.dropSojournMs += nowMs - arrivalMs;
    this.depart(nowMs);
  }

  private depart(nowMs: Ms): void {
    this.area += this.inSystem * (nowMs - this.areaAtMs);
    this.areaAtMs = nowMs;
    this.inSystem--;
    this.departed++;
  }

  /** The fleet at the start of the first window (each later one's comes with closeWindow). */
  openWith(fleet: FleetSample): void {
    this.openFleet = fleet;
  }

  /**
   * Closes the current window at `nowMs` and opens the next; `fleet` is the fleet at `nowMs`:
   * the next window's start (and the end of this one's spend).
   */
  closeWindow(nowMs: Ms, fleet: FleetSample, offeredEndMs: Ms = nowMs): void {
    const offeredSpanMs = offeredEndMs - this.winStart;
    const w = { arrivals: this.winArrivals, completed: this.winCompleted, dropped: this.winDropped, within: this.winWithin, startMs: this.winStart, offeredSpanMs, fleet: this.openFleet };
    this.windows.push(this.record(w, this.winCounts, nowMs, fleet));
    this.openFleet = fleet;
    this.last = w;
    // The counts closed stay (for closeRun); the spare ones count the next window.
    const spare = this.lastCounts;
    this.lastCounts = this.winCounts;
    this.winCounts = spare;
    this.winCounts.clear();
    this.winArrivals = 0;
    this.winCompleted = 0;
    this.winDropped = 0;
    this.winWithin = 0;
    this.winStart = nowMs;
  }

  /**
   * Ends the last window at the end of the run (`fleet`: the fleet then). What is left after the last boundary with no
   * arrival in it (the drain after the last arrival) is not a window of its own, a few ms of
   * 0 rps and a p99 of a couple of requests: it goes into the window before, which then ends here.
   * `loadEndMs` is when the load itself ended (the trace's or the Poisson run's end, else its last
   * arrival): a last window's offered rate is over its span up to then, never over the drain, which
   * depends on the policy.
   */
  closeRun(endMs: Ms, fleet: FleetSample, loadEndMs: Ms = endMs): void {
    const open = this.winArrivals + this.winCompleted + this.winDropped;
    if (this.windows.length > 0 && this.winArrivals === 0) {
      if (open === 0 && this.winStart >= endMs) return;
      this.lastCounts.addFrom(this.winCounts);
      const l = this.last;
      const w = { ...l, completed: l.completed + this.winCompleted, dropped: l.dropped + this.winDropped, within: l.within + this.winWithin };
      this.windows[this.windows.length - 1] = this.record(w, this.lastCounts, endMs, fleet);
      this.last = w;
      this.winCounts.clear();
      this.winCompleted = 0;
      this.winDropped = 0;
      this.winWithin = 0;
      this.winStart = endMs;
      return;
    }
    this.closeWindow(endMs, fleet, loadEndMs);
  }

  /** A window's record; `end` is the fleet at its end, for the spend over it. */
  private record(w: WindowTally, counts: LatencyCounts, endMs: Ms, end: FleetSample): WindowRecord {
    const finished = w.completed + w.dropped;
    const span = endMs - w.startMs;
    return {
      tMs: w.startMs,
      spanMs: Math.max(0, span),
      // Offered load is the trace's: the same for every policy, however long its drain.
      offeredRps: (w.arrivals * 1000) / Math.max(1, w.offeredSpanMs),
      completed: w.completed,
      dropped: w.dropped,
      // No completion, no latency: 0 would read as perfect (a window of drops, a lull).
      p50: w.completed === 0 ? null : counts.quantileMs(0.5),
      p90: w.completed === 0 ? null : counts.quantileMs(0.9),
      p99: w.completed === 0 ? null : counts.quantileMs(0.99),
      attainment: finished === 0 ? null : w.within / finished,
      mix: w.fleet.mix,
      usdPerHour: w.fleet.usdPerHour,
      meanUsdPerHour: span > 0 ? (end.usdPerHourMs - w.fleet.usdPerHourMs) / span : w.fleet.usdPerHour,
      budgetUsdPerHour: w.fleet.budgetUsdPerHour,
    };
  }

  /** Moves what the hot path counted into the per-class and per-type histograms (at the end of a run). */
  finish(): void {
    for (const c of this.perClass) c.counts.drainInto(c.latency);
    this.typeCounts.forEach((counts, i) => counts.drainInto(this.perType[i]!));
  }

  /** Requests that arrived and have not left. */
  get inFlight(): number {
    return this.inSystem;
  }

  /**
   * Little's law over [startMs, endMs], once everything has left: L is the time-average
   * number in the system, integrated from arrival and departure instants; λW is the arrival
   * rate times the mean time in system taken from the recorded latency histograms (and the
   * drops' time in system). Independent bookkeeping, so a mismatch means a recording bug.
   */
  little(startMs: Ms, endMs: Ms): { L: number; lambdaW: number } {
    this.finish();
    const area = this.area + this.inSystem * (endMs - this.areaAtMs);
    const span = Math.max(1, endMs - startMs);
    let arrivals = 0;
    let timeInSystem = this.dropSojournMs;
    for (const c of this.perClass) {
      arrivals += c.arrivals;
      timeInSystem += c.latency.meanMs * c.latency.count;
    }
    const w = arrivals === 0 ? 0 : timeInSystem / arrivals;
    return { L: area / span, lambdaW: (arrivals / span) * w };
  }

  /** All classes' latencies in one histogram. */
  overall(): LatencyHistogram {
    this.finish();
    const h = new LatencyHistogram();
    for (const c of this.perClass) h.merge(c.latency);
    return h;
  }
}
