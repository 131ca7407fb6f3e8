import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';

/** Baseline: each accepting backend with room in turn, blind to type, size and queue. */
export class RoundRobin implements RoutingPolicy {
  readonly name = 'round-robin';
  lastRejectReason?: RejectReason;
  private cursor = 0;

  pick(_req: RoutableRequest, view: PoolView): BackendState | null {
    const bs = view.backends;
    const n = bs.length;
    let sawAccepting = false;
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n;
      const b = bs[i]!;
      if (!b.accepting) continue;
      sawAccepting = true;
      if (b.outstanding >= b.maxOutstanding) continue;
      this.cursor = (i + 1) % n;
      return b;
    }
    this.lastRejectReason = sawAccepting ? 'overloaded' : 'no-backend';
    return null;
  }
}

export function createRoundRobin(): RoutingPolicy {
  return new RoundRobin();
}
