import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import { ANY, FinishScan } from './expected-finish.ts';

/**
 * Sends each request to the backend expected to finish it first: queued work per slot plus this
 * request's service time on that backend's type (so a large request weighs a slow type's speed,
 * not just its queue length). Within one type this is FCFS M/G/c; across types it is what the
 * performance model's equalized split approximates.
 */
export class ShortestExpectedDelay implements RoutingPolicy {
  readonly name = 'shortest-expected-delay';
  lastRejectReason?: RejectReason;
  private readonly scan = new FinishScan();

  pick(req: RoutableRequest, view: PoolView): BackendState | null {
    const s = this.scan.run(req, view, ANY);
    if (s.best === null) this.lastRejectReason = s.sawFull ? 'overloaded' : 'no-backend';
    return s.best;
  }
}

export function createShortestExpectedDelay(): RoutingPolicy {
  return new ShortestExpectedDelay();
}
