import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import { LeastOutstanding } from './least-outstanding.ts';

/**
 * Baseline: power of two choices (Mitzenmacher) — two backends drawn at random with the
 * view's seeded rng, the one with fewer outstanding requests per slot wins. When neither
 * can take the request, falls back to a full least-outstanding scan.
 */
export class PowerOfTwoChoices implements RoutingPolicy {
  readonly name = 'p2c';
  lastRejectReason?: RejectReason;
  private readonly fallback = new LeastOutstanding();

  pick(req: RoutableRequest, view: PoolView): BackendState | null {
    const bs = view.backends;
    const n = bs.length;
    if (n >= 2) {
      const i = view.rng.int(n);
      let j = view.rng.int(n - 1);
      if (j >= i) j++;
      const a = usable(bs[i]!) ? bs[i]! : null;
      const b = usable(bs[j]!) ? bs[j]! : null;
      if (a !== null && b !== null) return b.outstanding / b.slots < a.outstanding / a.slots ? b : a;
      if (a !== null || b !== null) return a ?? b;
    }
    const best = this.fallback.pick(req, view);
    if (best === null && this.fallback.lastRejectReason !== undefined) this.lastRejectReason = this.fallback.lastRejectReason;
    return best;
  }
}

function usable(b: BackendState): boolean {
  return b.accepting && b.outstanding < b.maxOutstanding;
}

export function createP2c(): RoutingPolicy {
  return new PowerOfTwoChoices();
}
