import { MixscaleError } from '../../src/core/errors.ts';
import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import type { RoutingPolicyOptions } from './index.ts';
import { ANY, FAST_ONLY, FRUGAL_ONLY, FinishScan } from './expected-finish.ts';

/** Default size threshold: Kairos' rm2 sizes above ~500 take > 200 ms on its CPU types. */
const DEFAULT_SIZE_THRESHOLD = 500;

/**
 * A static size threshold: requests of at least `threshold` go to fast backends, smaller ones to
 * frugal backends, each to the one expected to finish first. When the preferred group has no
 * backend with room (none accepting, or all full) the request goes to the other group rather
 * than wait or be dropped.
 */
export class SizeSplit implements RoutingPolicy {
  readonly name = 'size-split';
  readonly threshold: number;
  lastRejectReason?: RejectReason;
  private readonly scan = new FinishScan();

  constructor(threshold = DEFAULT_SIZE_THRESHOLD) {
    this.threshold = threshold;
  }

  pick(req: RoutableRequest, view: PoolView): BackendState | null {
    const s = this.scan.run(req, view, req.size >= this.threshold ? FAST_ONLY : FRUGAL_ONLY);
    if (s.best !== null) return s.best;
    const sawFull = s.sawFull;
    const any = this.scan.run(req, view, ANY);
    if (any.best === null) this.lastRejectReason = sawFull || any.sawFull ? 'overloaded' : 'no-backend';
    return any.best;
  }
}

export function createSizeSplit(options: RoutingPolicyOptions): RoutingPolicy {
  const t = options['threshold'] ?? DEFAULT_SIZE_THRESHOLD;
  if (typeof t !== 'number' || !(t > 0)) {
    throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `routing.options.threshold: expected a positive size for size-split, got ${JSON.stringify(t)}`);
  }
  return new SizeSplit(t);
}
