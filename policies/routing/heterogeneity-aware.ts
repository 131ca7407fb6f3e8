import { MixscaleError } from '../../src/core/errors.ts';
import { queuedWaitMs } from '../../src/routing/pool.ts';
import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import type { RoutingPolicyOptions } from './index.ts';

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

/**
 * Late binding: a frugal slot still takes a request it finishes up to this factor later than the
 * fast slots would (the fast estimate leaves out fast-bound requests still to arrive); chosen on
 * the simulator's Kairos setups (p99 at 60% load, attainment at 135 rps), see bench/README.md.
 */
const FRUGAL_TOLERANCE = 1.15;

const DEFAULT_HETEROGENEITY_AWARE: HeterogeneityAwareOptions = { largeFraction: 1, rejectLate: true, frugalFirst: 0 };

/**
 * The default router. Large or latency-critical requests go to fast backends (the one expected to
 * finish first); everything else goes to whichever backend, fast or frugal, is expected to finish
 * it first. A request that no backend can finish before its deadline is turned away early, so it
 * does not delay requests that still can make theirs. With late binding (the router's default) a
 * request waits rather than take a free backend when a busy one would serve it better, and
 * `pickWaiting` decides which waiting request a freed slot serves.
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
    let sawFullFast = false;
    // Late binding: when the busy backends would finish the request first, it waits for them.
    let busyMs = Infinity;
    let busyFastMs = Infinity;
    // ...and the shortest service time among them: below the time left, waiting can still pay.
    let busySvcMs = Infinity;
    // A request's service time depends on the backend's type only, and backends of one type
    // tend to sit together in the list: look it up once per run of a type.
    let svcType = '';
    let svc = NaN;
    const bs = view.backends;
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i]!;
      if (!b.accepting) continue;
      const full = b.outstanding >= b.maxOutstanding;
      if (full) {
        sawFull = true;
        if (b.fast) sawFullFast = true;
        if (!view.lateBinding) continue;
      }
      if (b.type !== svcType) {
        svcType = b.type;
        svc = view.expectedServiceMs(b, req);
      }
      const t = queuedWaitMs(b) + svc;
      if (!b.fast && svc < frugalServiceMs) frugalServiceMs = svc;
      if (full) {
        if (t < busyMs) busyMs = t;
        if (svc < busySvcMs) busySvcMs = svc;
        if (b.fast && t < busyFastMs) busyFastMs = t;
        continue;
      }
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
      } else if (t < bestFrugalMs) {
        bestFrugalMs = t;
        bestFrugal = b;
      }
    }
    const now = view.now();
    const remainingMs = req.deadlineMs - now;
    if (best === null) {
      // Every backend is busy: wait for one (late binding), unless none could serve it in time.
      const hopeless = view.lateBinding && this.options.rejectLate && sawFull && !(busySvcMs <= remainingMs);
      this.lastRejectReason = hopeless ? 'deadline' : sawFull ? 'overloaded' : 'no-backend';
      return null;
    }
    const needsFast = this.needsFast(req, frugalServiceMs);
    // Late binding: rather than bind to a free backend that would miss, wait for a busy one that
    // might not (any request that would be late where it could go); a request that needs a fast
    // slot waits for a busy one expected to finish it in time, its queue counted (a free frugal
    // slot that meets the deadline beats waiting for one that may not).
    if (view.lateBinding && ((sawFullFast && bestFast === null && needsFast && busyFastMs <= remainingMs) || (sawFull && bestMs > remainingMs && busySvcMs <= remainingMs))) {
      this.lastRejectReason = 'overloaded';
      return null;
    }
    let chosen = best;
    let chosenMs = bestMs;
    // Fast-only unless the fast backends would miss the deadline while another backend would not.
    if (bestFast !== null && needsFast && (bestFastMs <= remainingMs || bestMs > remainingMs)) {
      chosen = bestFast;
      chosenMs = bestFastMs;
    } else if (bestFrugal !== null && !needsFast && bestFrugalMs <= this.options.frugalFirst * (req.deadlineMs - req.arrivalMs)) {
      chosen = bestFrugal;
      chosenMs = bestFrugalMs;
    }
    if (view.lateBinding && (needsFast ? busyFastMs : busyMs) < chosenMs) {
      this.lastRejectReason = 'overloaded';
      return null;
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

  /**
   * Whether a request belongs on a fast backend: latency-critical, or large (its service time on
   * the fastest frugal backend, `frugalMs`, exceeds largeFraction of its latency budget).
   */
  private needsFast(req: RoutableRequest, frugalMs: number): boolean {
    return req.critical || frugalMs > this.options.largeFraction * (req.deadlineMs - req.arrivalMs);
  }

  /**
   * Late binding, least slack first: a free slot serves, of the waiting requests it can still
   * finish before their deadline, the one whose latest start time (deadline − its service time
   * here) comes first, so large requests, which have the least slack, are not starved by small
   * ones. A fast slot looks first at the requests that need a fast backend (large or critical).
   * A frugal slot leaves to the fast slots the requests that need them and those the fast slots
   * would finish sooner (the first fast slot's expected free time, plus the fast-bound work the
   * scan left ahead of it spread over the fast slots, plus the service there, with
   * FRUGAL_TOLERANCE). When nothing it may take can make its deadline here, a fast slot (or,
   * with rejectLate off, a frugal one) takes the oldest request it may take rather than idle.
   */
  pickWaiting(b: BackendState, waiting: readonly RoutableRequest[], view: PoolView): number {
    const now = view.now();
    const bs = view.backends;
    // Fast slots: how many, and when the first is expected to free.
    let fastSlots = 0;
    let fastFreeMs = Infinity;
    let fastRef: BackendState | undefined;
    for (let j = 0; j < bs.length; j++) {
      const o = bs[j]!;
      if (!o.accepting || !o.fast) continue;
      fastSlots += o.slots;
      const free = queuedWaitMs(o);
      if (free < fastFreeMs) {
        fastFreeMs = free;
        fastRef = o;
      }
    }
    let backlogMs = 0;
    let oldest = -1;
    let bestNeeds = -1;
    let bestNeedsStart = Infinity;
    let best = -1;
    let bestStart = Infinity;
    let frugalMinMs = Infinity;
    let prev: RoutableRequest | undefined;
    for (let i = 0; i < waiting.length; i++) {
      const r = waiting[i]!;
      const s = view.expectedServiceMs(b, r);
      if (!(s >= 0)) continue;
      if (fastRef !== undefined && (prev === undefined || r.model !== prev.model || r.size !== prev.size)) {
        // Fastest frugal service for this request (sizes repeat: recomputed only when they change).
        frugalMinMs = Infinity;
        for (let j = 0; j < bs.length; j++) {
          const o = bs[j]!;
          if (!o.accepting || o.fast) continue;
          const t = view.expectedServiceMs(o, r);
          if (t < frugalMinMs) frugalMinMs = t;
        }
        prev = r;
      }
      const needsFast = fastRef !== undefined && this.needsFast(r, frugalMinMs);
      const latestStart = r.deadlineMs - s;
      if (!b.fast && fastRef !== undefined) {
        // Leave to the fast slots what they would finish sooner, counting the fast-bound work ahead.
        const fastService = view.expectedServiceMs(fastRef, r);
        const fastFinishMs = fastFreeMs + backlogMs / fastSlots + fastService;
        if (needsFast || (s > FRUGAL_TOLERANCE * fastFinishMs && now + fastFinishMs <= r.deadlineMs)) {
          if (fastService >= 0) backlogMs += fastService;
          continue;
        }
      }
      if (oldest < 0) oldest = i;
      if (latestStart < now) continue;
      if (needsFast) {
        if (b.fast && latestStart < bestNeedsStart) {
          bestNeedsStart = latestStart;
          bestNeeds = i;
        }
      } else if (latestStart < bestStart) {
        bestStart = latestStart;
        best = i;
      }
    }
    if (bestNeeds >= 0) return bestNeeds;
    if (best >= 0) return best;
    // Nothing it may take can still make its deadline here: with rejectLate the slot stays free
    // (the late requests are turned away when their deadline passes), else the oldest is served.
    return this.options.rejectLate ? -1 : oldest;
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
