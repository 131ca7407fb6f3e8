import type { LatencyHistogram } from '../core/histogram.ts';
import type { SizePmf } from '../core/sizes.ts';
import type { Instance, Mix, Ms, Plan, RequestClass } from '../core/types.ts';
import type { ProfileTable } from '../catalog/profiles.ts';

/** One instance type the scaling policy may use (a "pool" in config). */
export interface CandidateType {
  readonly pool: string;
  readonly type: string;
  readonly usdPerHour: number;
  /** GPU or other accelerator: a "fast" node. */
  readonly fast: boolean;
  /** Requests it serves at once. */
  readonly slots: number;
  readonly bootMs: Ms;
  readonly minCount: number;
  readonly maxCount: number;
  /** False while a capacity error keeps this type in cooldown. */
  readonly available: boolean;
  /** Service-time profile per model name (ProfileGapError for a model it does not serve). */
  profile(model: string): ProfileTable;
  /** Whether its nodes serve a model (`pools[].models`); absent: every model. */
  serves?(model: string): boolean;
}

/** Whether candidate `c` serves `model`. */
export function candidateServes(c: CandidateType, model: string): boolean {
  return c.serves === undefined || c.serves(model);
}

/** Observed load of one request class over the last window. */
export interface ClassLoad {
  readonly name: string;
  /** Arrivals per second over the window (the estimator smooths and forecasts this). */
  readonly rps: number;
  readonly sizes: SizePmf;
  /** End-to-end latency of requests that finished in the window. */
  readonly latency?: LatencyHistogram;
}

export interface LoadObservation {
  readonly atMs: Ms;
  readonly windowMs: Ms;
  readonly classes: readonly ClassLoad[];
}

/** Everything a scaling policy may look at. Policies are pure functions of this. */
export interface ScalingState {
  readonly nowMs: Ms;
  readonly budgetUsdPerHour: number;
  /** Billed instances we own: pending, running and draining. */
  readonly fleet: readonly Instance[];
  readonly classes: readonly RequestClass[];
  readonly candidates: readonly CandidateType[];
  /** Load to plan for (estimated / forecast by the estimator). */
  readonly load: LoadObservation;
  /** What was observed (raw), for feedback policies such as target tracking. */
  readonly observed: LoadObservation;
  /** Per-type busy fraction over the window (0..1), when the metrics source knows it. */
  readonly utilization?: Readonly<Record<string, number>>;
}

export interface ScalingDecision {
  /** The mix to run now. */
  readonly mix: Mix;
  readonly reason: string;
  readonly plan?: Plan;
  /**
   * The mix the fleet is moving to, when `mix` is an interim step: what fits the budget beside
   * instances still draining (their money is free only once they are terminated).
   */
  readonly movingTo?: Mix;
}

export interface ScalingPolicy {
  readonly name: string;
  decide(state: ScalingState): ScalingDecision;
}

/** What a control tick observes: windowed load per class (router snapshot, CloudWatch, simulator). */
export interface Observation {
  readonly load: LoadObservation;
  /** Per-type busy fraction over the window (0..1). */
  readonly utilization?: Readonly<Record<string, number>>;
}

/** Source of observations. Implementations: router snapshot, CloudWatch, simulator recorder. */
export interface MetricsSource {
  observe(nowMs: Ms): Promise<Observation>;
}

/** Turns raw observations into the load to plan for (smoothing, panic window, forecast). */
export interface Estimator {
  estimate(observed: LoadObservation, nowMs: Ms): LoadObservation;
}

/** Plans for exactly what was observed. */
export const passThroughEstimator: Estimator = { estimate: (observed) => observed };

/**
 * The router's membership, as the reconciler drives it (implementations: the HTTP router's
 * admin API client, the simulator's router). Drain before terminate: drain(), wait until
 * inFlight() is 0, then the provider terminates and deregister() forgets the backend.
 */
export interface FleetMembership {
  /** Adds a running instance as a backend (idempotent). */
  register(instance: Instance): Promise<void>;
  /** Stops sending new requests to it; in-flight requests finish. */
  drain(instanceId: string): Promise<void>;
  /** Requests still in flight on it (0 once drained and idle; 0 for unknown ids). */
  inFlight(instanceId: string): Promise<number>;
  deregister(instanceId: string): Promise<void>;
  /**
   * The backends the router holds now (id → its URL and whether it drains), when it can say:
   * the reconciler checks its own memory against it every tick, so a router that restarted (and
   * forgot the fleet), a drain whose answer was lost, or a stale backend at a new instance's
   * address is mended. Absent (the simulator's router): the reconciler's memory is the truth.
   */
  members?(): Promise<ReadonlyMap<string, { readonly url: string; readonly draining: boolean }>>;
}
