import type { ProfileTable } from '../src/catalog/profiles.ts';
import type { FleetMembership } from '../src/control/types.ts';
import type { Rng } from '../src/core/rng.ts';
import type { Instance, Ms } from '../src/core/types.ts';
import { PoolTracker } from '../src/routing/pool.ts';
import type { BackendState, RejectReason, RoutableRequest, RoutingPolicy } from '../src/routing/types.ts';
import { MeanServiceCache, ServiceNode } from './service.ts';

export interface SimRouterOptions {
  readonly policy: RoutingPolicy;
  readonly rng: Rng;
  readonly now: () => Ms;
  /** Profile of a class's model on a type (throws when unprofiled; config loading checks). */
  readonly profileOf: (type: string, model: string) => ProfileTable;
  /** Models of the request classes, by class index. */
  readonly classModels: readonly string[];
  /** Models a pool's nodes serve (`pools[].models`); undefined: every model. */
  readonly modelsOf?: (pool: string) => readonly string[] | undefined;
  /** Type names, in the order per-type recording indexes them. */
  readonly types: readonly string[];
  /** Per type: fast or not and slots per instance. */
  readonly typeInfo: (type: string) => { fast: boolean; slots: number };
  /** Most requests kept outstanding per slot of a backend (queue included). */
  readonly maxOutstandingPerSlot: number;
  /** A registered instance joined (the run's per-type capacity accounting listens). */
  readonly onJoin?: (node: ServiceNode) => void;
  /** A node stopped counting as capacity (drained or gone); called once it takes no more requests. */
  readonly onLeave?: (node: ServiceNode) => void;
}

/**
 * A backend as the simulated router tags it: the service node rides on the routing state
 * object itself, so finding the node of a picked backend is a property load, not a map lookup.
 */
interface TaggedBackend extends BackendState {
  simNode?: ServiceNode;
}

/**
 * PoolTracker with the simulator's service-time lookup: the same profile table's mean, read
 * from the node's per-size cache instead of a per-backend map lookup (every policy asks this
 * for every backend on every request).
 */
class SimTracker extends PoolTracker {
  override expectedServiceMs(backend: BackendState, req: RoutableRequest): number {
    const node = (backend as TaggedBackend).simNode;
    if (node === undefined) return super.expectedServiceMs(backend, req);
    const cache = node.means[req.classIndex];
    if (cache === undefined || cache.table.model !== req.model) return super.expectedServiceMs(backend, req);
    return cache.table.covers(req.size) ? cache.meanMs(req.size) : NaN;
  }
}

/** Mutable view of one request handed to the routing policy (reused: policies must not keep it). */
interface RequestView {
  model: string;
  classIndex: number;
  size: number;
  arrivalMs: Ms;
  deadlineMs: Ms;
  critical: boolean;
}

/**
 * The simulated router: the same PoolTracker and RoutingPolicy objects the HTTP router uses,
 * in front of simulated service nodes. It is the fleet membership the reconciler drives:
 * register on running, drain, wait for in-flight to reach 0, deregister.
 */
export class SimRouter implements FleetMembership {
  readonly tracker: PoolTracker;
  readonly policy: RoutingPolicy;
  /** Every node ever registered, by index (indices are never reused). */
  readonly nodes: ServiceNode[] = [];
  private readonly byId = new Map<string, ServiceNode>();
  private readonly o: SimRouterOptions;
  private readonly view: RequestView = { model: '', classIndex: 0, size: 0, arrivalMs: 0, deadlineMs: Infinity, critical: false };
  /** Every node ever registered, by instance id (kept after deregister: in-flight work finishes). */
  private readonly everById = new Map<string, ServiceNode>();
  /** Per pool and type: the service-time caches its nodes share. */
  private readonly meansByPool = new Map<string, (MeanServiceCache | undefined)[]>();
  /** Why the last route() returned null. */
  lastReject: RejectReason | 'full' | 'unprofiled' = 'no-backend';
  /** Expected service time of the last routed request (what PoolTracker was told). */
  lastExpectedMs = 0;

  constructor(o: SimRouterOptions) {
    this.o = o;
    this.policy = o.policy;
    this.tracker = new SimTracker({ rng: o.rng, now: o.now, profileOf: (type, model) => o.profileOf(type, model) });
  }

  /** The node a request goes to, with its expected service time counted; null to reject. */
  route(classIndex: number, size: number, arrivalMs: Ms, deadlineMs: Ms): ServiceNode | null {
    const v = this.view;
    v.model = this.o.classModels[classIndex]!;
    v.classIndex = classIndex;
    v.size = size;
    v.arrivalMs = arrivalMs;
    v.deadlineMs = deadlineMs;
    const b = this.policy.pick(v as RoutableRequest, this.tracker.viewFor(v.model));
    if (b === null) {
      this.lastReject = this.policy.lastRejectReason ?? 'no-backend';
      return null;
    }
    const node = (b as TaggedBackend).simNode;
    if (node === undefined || node.gone || !b.accepting || b.outstanding >= b.maxOutstanding) {
      this.lastReject = 'full';
      return null;
    }
    // A policy may pick a type whose profile stops short of this size: no data, no service.
    const means = node.means[classIndex];
    if (means === undefined || !(size <= means.table.maxSize)) {
      this.lastReject = 'unprofiled';
      return null;
    }
    // What PoolTracker.expectedServiceMs answers (the same table's mean), without its lookups.
    this.lastExpectedMs = means.meanMs(size);
    return node;
  }

  async register(instance: Instance): Promise<void> {
    if (this.byId.has(instance.id)) return;
    const info = this.o.typeInfo(instance.type);
    const models = this.o.modelsOf?.(instance.pool);
    const backend = this.tracker.add({
      id: instance.id,
      type: instance.type,
      pool: instance.pool,
      fast: info.fast,
      slots: info.slots,
      maxOutstanding: info.slots * this.o.maxOutstandingPerSlot,
      models,
    });
    const key = `${instance.pool}\u0000${instance.type}`;
    let means = this.meansByPool.get(key);
    if (means === undefined) {
      means = this.o.classModels.map((m) => (models === undefined || models.includes(m) ? new MeanServiceCache(this.o.profileOf(instance.type, m)) : undefined));
      this.meansByPool.set(key, means);
    }
    const node = new ServiceNode(this.nodes.length, instance, backend, this.o.types.indexOf(instance.type), means);
    this.nodes.push(node);
    this.byId.set(instance.id, node);
    (backend as TaggedBackend).simNode = node;
    this.everById.set(instance.id, node);
    node.counted = true;
    this.o.onJoin?.(node);
  }

  async drain(instanceId: string): Promise<void> {
    const node = this.byId.get(instanceId);
    if (node === undefined || !node.backend.accepting) return;
    this.tracker.drain(instanceId);
    this.leave(node);
  }

  async inFlight(instanceId: string): Promise<number> {
    return this.byId.get(instanceId)?.backend.outstanding ?? 0;
  }

  async deregister(instanceId: string): Promise<void> {
    const node = this.byId.get(instanceId);
    if (node === undefined) return;
    node.backend.accepting = false;
    this.tracker.remove(instanceId);
    this.byId.delete(instanceId);
    this.leave(node);
  }

  /**
   * The instance is gone (terminated): it takes nothing more, and the node is returned so the
   * simulation can fail what it still holds. Undefined when it never registered.
   */
  gone(instanceId: string): ServiceNode | undefined {
    const node = this.everById.get(instanceId);
    if (node === undefined) return undefined;
    node.gone = true;
    node.backend.accepting = false;
    this.tracker.remove(instanceId);
    this.byId.delete(instanceId);
    this.leave(node);
    return node;
  }

  private leave(node: ServiceNode): void {
    if (!node.counted) return;
    node.counted = false;
    this.o.onLeave?.(node);
  }
}
