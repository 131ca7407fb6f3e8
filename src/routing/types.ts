import type { Rng } from '../core/rng.ts';
import type { Ms } from '../core/types.ts';

/** What a routing policy knows about a request. */
export interface RoutableRequest {
  readonly model: string;
  /** Index into the configured request classes. */
  readonly classIndex: number;
  readonly size: number;
  readonly arrivalMs: Ms;
  /** Absolute deadline (arrival + SLO, or the client's own); Infinity when none. */
  readonly deadlineMs: Ms;
  /** Latency-critical (priority) request. */
  readonly critical: boolean;
}

/**
 * A backend as the router and the simulator track it. The same PoolTracker updates these
 * fields in both, so policies see identical state.
 */
export interface BackendState extends BackendSpec {
  /** Requests dispatched and not yet finished. */
  outstanding: number;
  /** Sum of the expected service times (ms) of the outstanding requests. */
  pendingWorkMs: number;
  /** False while draining or unhealthy: takes no new requests. */
  accepting: boolean;
}

/** What a backend is: fixed for its lifetime. */
export interface BackendSpec {
  readonly id: string;
  readonly type: string;
  readonly pool: string;
  /** GPU / accelerator node. */
  readonly fast: boolean;
  /** Requests it serves concurrently. */
  readonly slots: number;
  /** Most requests the router keeps in flight to it (queue included). */
  readonly maxOutstanding: number;
  /** Models it serves (its pool's `models`); absent: every model. */
  readonly models?: readonly string[] | undefined;
}

/** Whether a backend, or a pool of the config, serves `model` (its `models`; unset: every model). */
export function serves(unit: { readonly models?: readonly string[] | undefined }, model: string): boolean {
  return unit.models === undefined || unit.models.includes(model);
}

/**
 * The backends a policy chooses among for one request: those that serve its model (the router
 * and the simulator hand policies `PoolTracker.viewFor(model)`).
 */
export interface PoolView {
  readonly backends: readonly BackendState[];
  readonly rng: Rng;
  now(): Ms;
  /** Expected service time (ms) of this request on this backend's type; NaN when unprofiled or not served there. */
  expectedServiceMs(backend: BackendState, req: RoutableRequest): number;
  /**
   * Late binding: the router holds a request that finds every backend busy (each backend's
   * outstanding limit is its slots) and binds it to a backend when a slot frees. A policy may
   * return null with reason 'overloaded' to wait for a better backend than the free ones.
   */
  readonly lateBinding: boolean;
}

/** Why a policy turned a request away. */
export type RejectReason = 'no-backend' | 'deadline' | 'overloaded';

export interface RoutingPolicy {
  readonly name: string;
  /** The backend to send to, or null to reject (see `lastRejectReason`). */
  pick(req: RoutableRequest, view: PoolView): BackendState | null;
  readonly lastRejectReason?: RejectReason;
  /**
   * Late binding: backend `b` has a free slot; which of the waiting requests (oldest first)
   * it should serve now, as an index into `waiting`, or -1 to leave the slot free for a request
   * that fits it better. Without this method the oldest waiting request is taken.
   */
  pickWaiting?(b: BackendState, waiting: readonly RoutableRequest[], view: PoolView): number;
}
