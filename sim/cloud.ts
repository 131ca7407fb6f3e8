import type { LaunchSpec, CloudProvider } from '../src/cloud/provider.ts';
import type { Catalog } from '../src/catalog/catalog.ts';
import { DEFAULT_BOOT_MS } from '../src/control/candidates.ts';
import type { Clock, TimerHandle } from '../src/core/clock.ts';
import { MixscaleError } from '../src/core/errors.ts';
import { Rng } from '../src/core/rng.ts';
import type { Instance, Ms } from '../src/core/types.ts';

/** EC2 bills Linux on-demand instances per second with a one-minute minimum. */
const MIN_BILLED_MS = 60_000;

export interface SimCloudOptions {
  readonly clock: Clock;
  readonly catalog: Catalog;
  /** Launch-to-running delay per type (default by family: accelerated 120 s, others 60 s). */
  readonly bootMs?: Readonly<Record<string, Ms>>;
  /** Probability that one launch call fails with a capacity error. */
  readonly capacityErrorRate?: number;
  /** Most instances of a type that can exist at once; launching beyond is a capacity error. */
  readonly capacity?: Readonly<Record<string, number>>;
  readonly rng?: Rng;
  /** The budget in force, for the over-budget meter (default: no budget). */
  readonly budgetAt?: (nowMs: Ms) => number;
  /** The first instant after `afterMs` at which the budget may change (default: it never does). */
  readonly nextBudgetChange?: (afterMs: Ms) => Ms | undefined;
  /** Called when an instance stops existing (the simulated router fails what it still had). */
  readonly onTerminated?: (instance: Instance) => void;
}

interface Owned {
  readonly instance: Instance;
  boot: TimerHandle | undefined;
  terminatedAtMs: Ms | undefined;
}

/**
 * The simulated cloud: instances boot after a per-type delay on the simulated clock, cost the
 * catalog price billed per second (one-minute minimum), and launches may fail for lack of
 * capacity. It owns every instance it ever launched and touches nothing else. It also meters
 * spend: total dollars, the highest billed $/h seen, and how long billing exceeded the budget.
 */
export class SimCloud implements CloudProvider {
  readonly name = 'sim';
  private readonly clock: Clock;
  private readonly catalog: Catalog;
  private readonly opts: SimCloudOptions;
  private readonly rng: Rng;
  private readonly owned = new Map<string, Owned>();
  private readonly byToken = new Map<string, string[]>();
  private nextId = 1;
  private closedUsd = 0;
  private rateUsdPerHour = 0;
  private meterAtMs: Ms;
  private overBudgetMs = 0;
  /** ∫ billed $/h dt, in $/h · ms, up to meterAtMs. */
  private rateIntegral = 0;
  private maxRate = 0;

  constructor(opts: SimCloudOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.catalog = opts.catalog;
    this.rng = opts.rng ?? new Rng(1);
    this.meterAtMs = opts.clock.now();
  }

  async list(): Promise<Instance[]> {
    return this.instances();
  }

  /** Billed instances (pending, running, draining), synchronously, oldest first. */
  instances(): Instance[] {
    const out: Instance[] = [];
    for (const o of this.owned.values()) if (o.terminatedAtMs === undefined) out.push(o.instance);
    return out;
  }

  async launch(spec: LaunchSpec): Promise<Instance[]> {
    const again = this.byToken.get(spec.clientToken);
    if (again !== undefined) return again.map((id) => this.owned.get(id)!.instance);
    if (!Number.isInteger(spec.count) || spec.count < 0) {
      throw new MixscaleError('MIXSCALE_CLOUD_API', `launch: count must be a non-negative integer, got ${spec.count}`, { retryable: false, type: spec.type });
    }
    if (!this.catalog.has(spec.type)) {
      throw new MixscaleError('MIXSCALE_CLOUD_CAPACITY', `launch: instance type "${spec.type}" is not offered`, { type: spec.type, retryable: false });
    }
    const limit = this.opts.capacity?.[spec.type];
    const live = this.instances().filter((i) => i.type === spec.type).length;
    if ((limit !== undefined && live + spec.count > limit) || (spec.count > 0 && this.rng.next() < (this.opts.capacityErrorRate ?? 0))) {
      throw new MixscaleError('MIXSCALE_CLOUD_CAPACITY', `launch: insufficient capacity for ${spec.count}×${spec.type}`, { type: spec.type, retryable: true });
    }
    const now = this.clock.now();
    this.meter(now);
    const price = this.catalog.price(spec.type);
    const bootMs = this.opts.bootMs?.[spec.type] ?? (this.catalog.isAccelerated(spec.type) ? DEFAULT_BOOT_MS.accelerated : DEFAULT_BOOT_MS.other);
    const launched: Instance[] = [];
    for (let k = 0; k < spec.count; k++) {
      const id = `sim-${String(this.nextId++).padStart(5, '0')}`;
      const instance: Instance = { id, type: spec.type, pool: spec.pool, state: 'pending', launchedAtMs: now, usdPerHour: price };
      const owned: Owned = { instance, boot: undefined, terminatedAtMs: undefined };
      owned.boot = this.clock.setTimeout(() => this.ready(owned), bootMs);
      this.owned.set(id, owned);
      launched.push(instance);
      this.rateUsdPerHour += price;
    }
    this.maxRate = Math.max(this.maxRate, this.rateUsdPerHour);
    this.byToken.set(spec.clientToken, launched.map((i) => i.id));
    return launched;
  }

  async terminate(ids: readonly string[]): Promise<void> {
    const foreign = ids.filter((id) => !this.owned.has(id));
    if (foreign.length > 0) {
      throw new MixscaleError('MIXSCALE_CLOUD_API', `terminate: not owned by this cluster: ${foreign.join(', ')}`, { ids: foreign, retryable: false });
    }
    const now = this.clock.now();
    this.meter(now);
    for (const id of ids) {
      const o = this.owned.get(id)!;
      if (o.terminatedAtMs !== undefined) continue;
      if (o.boot !== undefined) this.clock.clearTimeout(o.boot);
      o.boot = undefined;
      o.terminatedAtMs = now;
      o.instance.state = 'terminated';
      this.rateUsdPerHour -= o.instance.usdPerHour;
      this.closedUsd += billedUsd(o.instance, now);
      this.opts.onTerminated?.(o.instance);
    }
    // Rounding of repeated float sums must not leave a phantom cent per hour.
    if (this.instances().length === 0) this.rateUsdPerHour = 0;
  }

  /** Billed $/h right now: pending + running + draining instances at catalog price. */
  usdPerHour(): number {
    return this.rateUsdPerHour;
  }

  /** Dollars billed from the start to `nowMs` (live instances as if terminated now). */
  totalUsd(nowMs: Ms = this.clock.now()): number {
    let usd = this.closedUsd;
    for (const o of this.owned.values()) if (o.terminatedAtMs === undefined) usd += billedUsd(o.instance, nowMs);
    return usd;
  }

  /** Highest billed $/h at any instant so far. */
  maxUsdPerHour(): number {
    return this.maxRate;
  }

  /** Seconds during which the billed $/h exceeded the budget in force, up to `nowMs`. */
  overBudgetSeconds(nowMs: Ms = this.clock.now()): number {
    this.meter(nowMs);
    return this.overBudgetMs / 1000;
  }

  /**
   * ∫ billed $/h dt (in $/h · ms) from the start to `nowMs`: the difference of two readings over
   * their span is the mean spend rate, which per-second billing's rounding (in `totalUsd`)
   * cannot lift above the highest.
   */
  rateIntegralAt(nowMs: Ms = this.clock.now()): number {
    this.meter(nowMs);
    return this.rateIntegral;
  }

  /** Like rateIntegralAt, but only reads: the meter is not moved (report windows sample it). */
  rateIntegralPeek(nowMs: Ms): number {
    return this.rateIntegral + (nowMs > this.meterAtMs ? this.rateUsdPerHour * (nowMs - this.meterAtMs) : 0);
  }

  /**
   * Adds the time since the last meter (the billed rate is constant since) to the rate's
   * integral, and to the time over budget where the rate exceeded it, piece by piece of the schedule.
   */
  private meter(nowMs: Ms): void {
    if (nowMs > this.meterAtMs) this.rateIntegral += this.rateUsdPerHour * (nowMs - this.meterAtMs);
    const { budgetAt, nextBudgetChange } = this.opts;
    for (let t = this.meterAtMs; t < nowMs && budgetAt !== undefined && this.rateUsdPerHour > 0; ) {
      const next = Math.min(nowMs, nextBudgetChange?.(t) ?? Infinity);
      if (this.rateUsdPerHour > budgetAt(t) * (1 + 1e-9)) this.overBudgetMs += next - t;
      t = next;
    }
    this.meterAtMs = Math.max(this.meterAtMs, nowMs);
  }

  private ready(o: Owned): void {
    o.boot = undefined;
    if (o.terminatedAtMs !== undefined) return;
    o.instance.state = 'running';
    o.instance.readyAtMs = this.clock.now();
    o.instance.address = `sim://${o.instance.id}`;
  }
}

function billedUsd(i: Instance, endMs: Ms): number {
  const ms = Math.max(MIN_BILLED_MS, Math.ceil((endMs - i.launchedAtMs) / 1000) * 1000);
  return (i.usdPerHour * ms) / 3_600_000;
}
