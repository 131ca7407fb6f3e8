import { queuedWaitMs } from '../../src/routing/pool.ts';
import type { BackendState, PoolView, RoutableRequest } from '../../src/routing/types.ts';

/** Which backends a scan considers. */
export const ANY = 0;
export const FAST_ONLY = 1;
export const FRUGAL_ONLY = 2;
export type BackendFilter = typeof ANY | typeof FAST_ONLY | typeof FRUGAL_ONLY;

/**
 * Expected time (ms from now) until this request would finish on `b`: the queued work spread over
 * its slots (none when a slot is free), plus this request's service time on b's type. NaN when
 * b's type has no profile for the request's model and size.
 */
function expectedFinishMs(b: BackendState, req: RoutableRequest, view: PoolView): number {
  return queuedWaitMs(b) + view.expectedServiceMs(b, req);
}

/**
 * Result of one scan, reused across calls so the hot path allocates nothing: the backend with the
 * lowest expected finish (or null) and why none was found.
 */
export class FinishScan {
  best: BackendState | null = null;
  bestMs = Infinity;
  /** Some backend matched the filter but was at its outstanding limit. */
  sawFull = false;

  run(req: RoutableRequest, view: PoolView, filter: BackendFilter): this {
    this.best = null;
    this.bestMs = Infinity;
    this.sawFull = false;
    const bs = view.backends;
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i]!;
      if (!b.accepting) continue;
      if (filter === FAST_ONLY ? !b.fast : filter === FRUGAL_ONLY ? b.fast : false) continue;
      if (b.outstanding >= b.maxOutstanding) {
        this.sawFull = true;
        continue;
      }
      const t = expectedFinishMs(b, req, view);
      if (t < this.bestMs) {
        this.bestMs = t;
        this.best = b;
      }
    }
    return this;
  }
}
