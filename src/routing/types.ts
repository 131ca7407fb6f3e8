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
}

export interface PoolView {
  readonly backends: readonly BackendState[];
  readonly rng: Rng;
  now(): Ms;
  /** Expected service time (ms) of this request on this backend's type; NaN when unprofiled. */
  expectedServiceMs(backend: BackendState, req: RoutableRequest): number;
}

/** Why a policy turned a request away. */
export type RejectReason = 'no-backend' | 'deadline' | 'overloaded';

export interface RoutingPolicy {
  readonly name: string;
  /** The backend to send to, or null to reject (see `lastRejectReason`). */
  pick(req: RoutableRequest, view: PoolView): BackendState | null;
  readonly lastRejectReason?: RejectReason;
}
