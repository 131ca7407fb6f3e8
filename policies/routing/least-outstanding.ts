import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';

/**
 * Baseline: the accepting backend with the fewest outstanding requests per slot (ties: the
 * first listed). Sees queues, not speed: a slow type with a short queue still wins.
 */
export class LeastOutstanding implements RoutingPolicy {
  readonly name = 'least-outstanding';
  lastRejectReason?: RejectReason;

  pick(_req: RoutableRequest, view: PoolView): BackendState | null {
    let best: BackendState | null = null;
    let bestLoad = Infinity;
    let sawAccepting = false;
    const bs = view.backends;
    // Indexed loop: this runs for every request, and an iterator here is measurable.
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i]!;
      if (!b.accepting) continue;
      sawAccepting = true;
      if (b.outstanding >= b.maxOutstanding) continue;
      const load = b.outstanding / b.slots;
      if (load < bestLoad) {
        best = b;
        bestLoad = load;
        // An idle backend cannot be beaten (ties go to the first listed anyway).
        if (load === 0) break;
      }
    }
    if (best === null) this.lastRejectReason = sawAccepting ? 'overloaded' : 'no-backend';
    return best;
  }
}

export function createLeastOutstanding(): RoutingPolicy {
  return new LeastOutstanding();
}
