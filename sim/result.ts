import type { Ms } from '../src/core/types.ts';
import type { DropReason, WindowRecord } from './recorder.ts';

export { percent } from '../src/core/units.ts';

/** The JSON form of one simulation run (docs/sim.md documents every field). */

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface RequestCounts {
  readonly total: number;
  readonly completed: number;
  readonly dropped: number;
  /** Still in the system when the run ended (0: runs drain in-flight work before ending). */
  readonly inFlight: number;
}

export interface ClassResult {
  readonly model: string;
  readonly requests: RequestCounts;
  readonly latencyMs: LatencySummary;
  readonly slo: { readonly targetMs: number; readonly quantile: number; readonly attainment: number; readonly met: boolean };
}

/** The fleet of one report window: at its start (tMs), and its mean spend over it. */
export interface FleetPoint {
  readonly tMs: Ms;
  /** Billed instances per type (pending + running + draining) at tMs. */
  readonly mix: Readonly<Record<string, number>>;
  /** Billed $/h at tMs. */
  readonly usdPerHour: number;
  /** Mean billed $/h over the window. */
  readonly meanUsdPerHour: number;
  /** The budget in force at tMs. */
  readonly budgetUsdPerHour: number;
}

export interface DecisionPoint {
  readonly tMs: Ms;
  readonly mix: Readonly<Record<string, number>>;
  readonly reason: string;
}

export interface SimRun {
  /** Scaling policy. */
  readonly policy: string;
  /** Routing policy. */
  readonly router: string;
  readonly seed: number;
  readonly requests: RequestCounts & { readonly dropReasons: Readonly<Record<DropReason, number>> };
  readonly latencyMs: LatencySummary;
  readonly perClass: Readonly<Record<string, ClassResult>>;
  /** Latency of completed requests by the instance type that served them. */
  readonly perType: Readonly<Record<string, { readonly completed: number; readonly latencyMs: LatencySummary }>>;
  /** Against the first class's target; attainment over all requests, each against its own class's target. */
  readonly slo: { readonly targetMs: number; readonly attainment: number };
  readonly cost: {
    readonly totalUsd: number;
    readonly budgetUsdPerHour: number;
    readonly maxUsdPerHour: number;
    readonly meanUsdPerHour: number;
    readonly overBudgetSeconds: number;
  };
  readonly fleet: readonly FleetPoint[];
  readonly timeline: readonly WindowRecord[];
  /** Points of the latency CDF of all completed requests. */
  readonly cdf: ReadonlyArray<{ readonly ms: number; readonly fraction: number }>;
  /** Scaling decisions whenever the desired mix changed (at most 500). */
  readonly decisions: readonly DecisionPoint[];
  readonly ticks: { readonly total: number; readonly failed: number };
  readonly checks: {
    /** Time-average requests in the system vs arrival rate × mean time in system. */
    readonly littleL: number;
    readonly littleLambdaW: number;
    readonly littleRelativeError: number;
    /** total = completed + dropped + inFlight. */
    readonly conservation: boolean;
  };
  readonly trace: { readonly rows: number; readonly skippedRows: number; readonly arrivals: number; readonly rateFactor: number };
  /** Simulated span from t = 0 to the last departure. */
  readonly simulatedMs: Ms;
  /** Wall-clock time of the run (differs between runs; everything else is seed-determined). */
  readonly wallClockMs: number;
  readonly simulatedRequestsPerSecond: number;
}

export interface SimReport {
  readonly scenario: {
    readonly name: string;
    readonly source: string;
    readonly budgetUsdPerHour: number;
    /** budget.schedule, when the config has one: from each cron boundary (simulated time, UTC) on, its budget. */
    readonly budgetSchedule?: ReadonlyArray<{ readonly cron: string; readonly usdPerHour: number }>;
    readonly classes: ReadonlyArray<{ readonly name: string; readonly model: string; readonly sloMs: number; readonly sloQuantile: number }>;
    readonly pools: ReadonlyArray<{ readonly name: string; readonly type: string; readonly usdPerHour: number; readonly fast: boolean; readonly slots: number }>;
    readonly trace: string;
    readonly seed: number;
  };
  readonly runs: readonly SimRun[];
}

/** The most scaling decisions a run keeps (`decisions`): the first ones, whenever the desired mix changed. */
export const MAX_DECISIONS = 500;

/** The run the reports call best: most requests within SLO, then the lowest p99. */
export function bestRun(runs: readonly SimRun[]): SimRun | undefined {
  return [...runs].sort((a, b) => b.slo.attainment - a.slo.attainment || a.latencyMs.p99 - b.latencyMs.p99)[0];
}

/** A latency of a run, formatted, or n/a when the run completed nothing (its percentiles read 0). */
export function runLatency(r: SimRun, v: number, format: (ms: number) => string): string {
  return r.requests.completed > 0 ? format(v) : 'n/a';
}
