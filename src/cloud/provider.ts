import type { Instance } from '../core/types.ts';

/** What to launch: `count` instances of `type` into `pool`. */
export interface LaunchSpec {
  readonly type: string;
  readonly pool: string;
  readonly count: number;
  /**
   * Idempotency key: launching twice with the same token yields the same instances (EC2
   * ClientToken semantics), so a controller restarted mid-reconcile never double-launches.
   */
  readonly clientToken: string;
}

/**
 * The whole cloud contract (implementations: aws, local, sim; one contract suite runs
 * against all). A provider only ever sees and touches instances it owns (tagged with its
 * cluster); terminate() refuses anything else.
 *
 * Errors: MixscaleError with code MIXSCALE_CLOUD_CAPACITY (details.type names the type that
 * has no capacity or is unsupported) or MIXSCALE_CLOUD_API (anything else; details.retryable,
 * and details.outcomeUnknown when the call may have been carried out although it failed: a
 * launch whose answer was lost, which the caller settles by sending it again with its token).
 */
export interface CloudProvider {
  readonly name: string;
  /**
   * Owned instances that are not terminated: pending, running or draining; and, where the
   * provider sees one leave (local), shutting-down until it is gone (not billed).
   */
  list(): Promise<Instance[]>;
  launch(spec: LaunchSpec): Promise<Instance[]>;
  terminate(ids: readonly string[]): Promise<void>;
  /**
   * Those of `ids` the provider can see, owned, in whatever state, `terminated` included (EC2
   * keeps a terminated instance visible for a while); an id it cannot see yet is left out.
   * Optional: the reconciler asks it about launches list() has not shown yet, to tell one still
   * on its way from one the cloud ended at once (an AMI or volume-key failure).
   */
  describe?(ids: readonly string[]): Promise<Instance[]>;
}

/**
 * An owned instance's $/h: the catalog's, or 0 for a type the catalog lacks (tagged by hand, or
 * dropped from the catalog since launch), with `warn` called: listed, and drained by the
 * controller as part of no pool, rather than fatal.
 */
export function ownedPrice(priceOf: (type: string) => number, type: string, warn: () => void): number {
  try {
    return priceOf(type);
  } catch {
    warn();
    return 0;
  }
}
