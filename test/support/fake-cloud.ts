import type { CloudProvider, LaunchSpec } from '../../src/cloud/provider.ts';
import type { Clock } from '../../src/core/clock.ts';
import { MixscaleError } from '../../src/core/errors.ts';
import type { Instance, Ms } from '../../src/core/types.ts';
import type { FleetMembership } from '../../src/control/types.ts';

/**
 * An in-memory cloud on a clock, for control tests: instances boot after `bootMs`, launches
 * are idempotent per clientToken, capacity errors and stuck launches can be injected, and
 * it holds one foreign instance it must never hand out or terminate.
 */
export class FakeCloud implements CloudProvider {
  readonly name = 'fake';
  readonly instances = new Map<string, Instance>();
  readonly foreign: Instance;
  readonly calls: { launch: LaunchSpec[]; terminate: string[][] } = { launch: [], terminate: [] };
  private readonly byToken = new Map<string, string[]>();
  private next = 1;
  /** Types that fail to launch with MIXSCALE_CLOUD_CAPACITY. */
  readonly noCapacity = new Set<string>();
  /** Types whose launches never leave pending. */
  readonly stuck = new Set<string>();
  /** When set, every call fails with this error. */
  failWith: Error | undefined;
  /** Highest billed spend ($/h) right after any launch: what a budget check must hold to. */
  peakSpend = 0;

  constructor(
    private readonly clock: Clock,
    readonly prices: Record<string, number>,
    readonly bootMs: Ms = 60_000,
  ) {
    this.foreign = { id: 'i-foreign', type: Object.keys(prices)[0] ?? 't', pool: 'other', state: 'running', launchedAtMs: 0, usdPerHour: 1 };
  }

  private refresh(): void {
    const now = this.clock.now();
    for (const i of this.instances.values()) {
      if (i.state === 'pending' && !this.stuck.has(i.type) && now - i.launchedAtMs >= this.bootMs) {
        i.state = 'running';
        i.readyAtMs = i.launchedAtMs + this.bootMs;
        i.address = `10.0.0.${i.id.slice(2)}:8000`;
      }
    }
  }

  async list(): Promise<Instance[]> {
    if (this.failWith) throw this.failWith;
    this.refresh();
    return [...this.instances.values()].filter((i) => i.state !== 'terminated').map((i) => ({ ...i }));
  }

  async launch(spec: LaunchSpec): Promise<Instance[]> {
    if (this.failWith) throw this.failWith;
    this.calls.launch.push(spec);
    const prior = this.byToken.get(spec.clientToken);
    if (prior) return prior.map((id) => ({ ...this.instances.get(id)! }));
    if (this.noCapacity.has(spec.type)) throw new MixscaleError('MIXSCALE_CLOUD_CAPACITY', `no capacity for ${spec.type}`, { type: spec.type });
    const out: Instance[] = [];
    for (let k = 0; k < spec.count; k++) {
      const i: Instance = { id: `i-${this.next++}`, type: spec.type, pool: spec.pool, state: 'pending', launchedAtMs: this.clock.now(), usdPerHour: this.prices[spec.type] ?? 1 };
      this.instances.set(i.id, i);
      out.push({ ...i });
    }
    this.byToken.set(spec.clientToken, out.map((i) => i.id));
    this.peakSpend = Math.max(this.peakSpend, this.spend());
    return out;
  }

  async terminate(ids: readonly string[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    for (const id of ids) {
      if (!this.instances.has(id)) throw new MixscaleError('MIXSCALE_CLOUD_API', `refusing to terminate ${id}: not ours`, { retryable: false });
    }
    this.calls.terminate.push([...ids]);
    for (const id of ids) this.instances.get(id)!.state = 'terminated';
  }

  /** Billed spend ($/h) right now. */
  spend(): number {
    let s = 0;
    for (const i of this.instances.values()) if (i.state !== 'terminated') s += i.usdPerHour;
    return s;
  }

  /** An instance that dies on its own (hardware failure, spot reclaim). */
  kill(id: string): void {
    this.instances.get(id)!.state = 'terminated';
  }
}

/**
 * The router's membership, in memory, with the router's rules: registering an id it has is a
 * no-op (a drained backend stays drained), and it lists what it holds (`members`).
 */
export class FakeMembership implements FleetMembership {
  readonly registered = new Set<string>();
  readonly urls = new Map<string, string>();
  readonly drained = new Set<string>();
  readonly inFlightById = new Map<string, number>();
  readonly log: string[] = [];
  unreachable = false;

  private check(): void {
    if (this.unreachable) throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', 'router unreachable');
  }

  async register(instance: Instance): Promise<void> {
    this.check();
    this.log.push(`register ${instance.id}`);
    this.registered.add(instance.id);
    this.urls.set(instance.id, instance.address ?? '');
  }

  async drain(id: string): Promise<void> {
    this.check();
    this.log.push(`drain ${id}`);
    this.drained.add(id);
  }

  async inFlight(id: string): Promise<number> {
    this.check();
    return this.inFlightById.get(id) ?? 0;
  }

  async deregister(id: string): Promise<void> {
    this.check();
    this.log.push(`deregister ${id}`);
    this.registered.delete(id);
    this.drained.delete(id);
    this.urls.delete(id);
  }

  async members(): Promise<ReadonlyMap<string, { readonly url: string; readonly draining: boolean }>> {
    this.check();
    return new Map([...this.registered].map((id) => [id, { url: this.urls.get(id) ?? '', draining: this.drained.has(id) }]));
  }

  /** The router restarted: it holds nothing the controller registered. */
  forget(): void {
    this.registered.clear();
    this.drained.clear();
    this.urls.clear();
  }
}
