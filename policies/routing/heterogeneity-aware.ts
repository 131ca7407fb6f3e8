import { MixscaleError } from '../../src/core/errors.ts';
import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import type { RoutingPolicyOptions } from './index.ts';
import { expectedFinishMs } from './expected-finish.ts';

export interface HeterogeneityAwareOptions {
  /**
   * A request is "large" when its service time on the fastest frugal backend exceeds this
   * fraction of its latency budget (deadline − arrival): it goes to fast backends. The
   * performance model assumes the same rule (src/model/predict.ts, largeFraction).
   */
  readonly largeFraction: number;
  /** Reject at once, with reason 'deadline', requests no backend is expected to finish in time. */
  readonly rejectLate: boolean;
  /**
   * Keep fast backends for the requests that need them: a request that is neither large nor
   * critical goes to the frugal backend expected to finish it first whenever that finish is
   * within this fraction of its latency budget (0 turns this off: plain expected-finish routing).
   */
  readonly frugalFirst: number;
}

export const DEFAULT_HETEROGENEITY_AWARE: HeterogeneityAwareOptions = { largeFraction: 1, rejectLate: true, frugalFirst: 0 };

/**
 * The default router. Large or latency-critical requests go to fast backends (the one expected to
 * finish first); everything else goes to whichever backend, fast or frugal, is expected to finish
 * it first. A request that no backend can finish before its deadline is turned away early, so it
 * does not delay requests that still can make theirs.
 */
export class HeterogeneityAware implements RoutingPolicy {
  readonly name = 'heterogeneity-aware';
  readonly options: HeterogeneityAwareOptions;
  lastRejectReason?: RejectReason;

  constructor(options: Partial<HeterogeneityAwareOptions> = {}) {
    this.options = { ...DEFAULT_HETEROGENEITY_AWARE, ...options };
  }

  pick(req: RoutableRequest, view: PoolView): BackendState | null {
    let best: BackendState | null = null;
    let bestMs = Infinity;
    let bestFast: BackendState | null = null;
    let bestFastMs = Infinity;
    let frugalServiceMs = Infinity;
    let bestFrugal: BackendState | null = null;
    let bestFrugalMs = Infinity;
    let sawFull = false;
    const bs = view.backends;
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i]!;
      if (!b.accepting) continue;
      if (b.outstanding >= b.maxOutstanding) {
        sawFull = true;
        continue;
      }
      const t = expectedFinishMs(b, req, view);
      if (!(t >= 0)) continue;
      if (t < bestMs) {
        bestMs = t;
        best = b;
      }
      if (b.fast) {
        if (t < bestFastMs) {
          bestFastMs = t;
          bestFast = b;
        }
      } else {
        const s = view.expectedServiceMs(b, req);
        if (s < frugalServiceMs) frugalServiceMs = s;
        if (t < bestFrugalMs) {
          bestFrugalMs = t;
          bestFrugal = b;
        }
      }
    }
    if (best === null) {
      this.lastRejectReason = sawFull ? 'overloaded' : 'no-backend';
      return null;
    }
    const now = view.now();
    const remainingMs = req.deadlineMs - now;
    const large = frugalServiceMs > this.options.largeFraction * (req.deadlineMs - req.arrivalMs);
    let chosen = best;
    let chosenMs = bestMs;
    // Fast-only unless the fast backends would miss the deadline while another backend would not.
    if (bestFast !== null && (req.critical || large) && (bestFastMs <= remainingMs || bestMs > remainingMs)) {
      chosen = bestFast;
      chosenMs = bestFastMs;
    } else if (bestFrugal !== null && !req.critical && !large && bestFrugalMs <= this.options.frugalFirst * (req.deadlineMs - req.arrivalMs)) {
      chosen = bestFrugal;
      chosenMs = bestFrugalMs;
    }
    // Reject only if even an optimistic finish misses: pendingWorkMs counts the whole service
    // time of requests already in service, so the plain estimate would turn away requests that
    // can still make it.
    if (this.options.rejectLate && chosenMs > remainingMs && optimisticFinishMs(chosen, req, view) > remainingMs) {
      this.lastRejectReason = 'deadline';
      return null;
    }
    return chosen;
  }
}

/** Expected finish counting only the queued share of the outstanding work (in-service work taken as done). */
function optimisticFinishMs(b: BackendState, req: RoutableRequest, view: PoolView): number {
  const queued = b.outstanding > b.slots ? (b.pendingWorkMs * (b.outstanding - b.slots)) / b.outstanding / b.slots : 0;
  return queued + view.expectedServiceMs(b, req);
}

export function createHeterogeneityAware(options: RoutingPolicyOptions): RoutingPolicy {
  const o: { largeFraction?: number; rejectLate?: boolean; frugalFirst?: number } = {};
  for (const [k, v] of Object.entries(options)) {
    if (k === 'largeFraction') {
      if (typeof v !== 'number' || !(v > 0)) throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `routing.options.largeFraction: expected a positive number, got ${JSON.stringify(v)}`);
      o.largeFraction = v;
    } else if (k === 'frugalFirst') {
      if (typeof v !== 'number' || !(v >= 0)) throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `routing.options.frugalFirst: expected a number ≥ 0, got ${JSON.stringify(v)}`);
      o.frugalFirst = v;
    } else if (k === 'rejectLate') {
      if (typeof v !== 'boolean') throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `routing.options.rejectLate: expected true or false, got ${JSON.stringify(v)}`);
      o.rejectLate = v;
    } else {
      throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `routing.options.${k}: not an option of heterogeneity-aware (allowed: largeFraction, rejectLate, frugalFirst)`);
    }
  }
  return new HeterogeneityAware(o);
}
