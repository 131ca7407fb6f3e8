import type { ProfileTable } from '../catalog/profiles.ts';
import type { Rng } from '../core/rng.ts';
import type { Ms } from '../core/types.ts';
import { serves, type BackendSpec, type BackendState, type PoolView, type RoutableRequest } from './types.ts';

export type { BackendSpec };

/**
 * Expected wait (ms) before a request sent to `b` now would start: none while a slot is free,
 * else its outstanding expected work spread over its slots (in-service work counted whole).
 */
export function queuedWaitMs(b: BackendState): number {
  return b.outstanding < b.slots ? 0 : b.pendingWorkMs / b.slots;
}

/**
 * The routing state both the HTTP router and the simulator keep: which backends exist, which
 * accept work, and how much expected work each has outstanding. Both call dispatched() and
 * finished() at the same points of a request's life, so policies see the same state in
 * simulation and production.
 */
export class PoolTracker implements PoolView {
  readonly backends: BackendState[] = [];
  readonly rng: Rng;
  /** Late binding on (see PoolView.lateBinding); set by the router that owns this tracker. */
  lateBinding = false;
  private readonly clockNow: () => Ms;
  private readonly profileOf: (type: string, model: string) => ProfileTable | undefined;
  /** Per backend: the profile last used and its model, so the hot path skips map lookups. */
  private readonly cache = new WeakMap<BackendState, { model: string; table: ProfileTable | undefined }>();

  /** Backends that serve only some models; while 0, every view is the tracker itself. */
  private restricted = 0;
  /** Per model: the backends that serve it, rebuilt when membership changes. */
  private readonly views = new Map<string, ModelView>();
  private version = 0;

  constructor(opts: { rng: Rng; now: () => Ms; profileOf: (type: string, model: string) => ProfileTable | undefined }) {
    this.rng = opts.rng;
    this.clockNow = opts.now;
    this.profileOf = opts.profileOf;
  }

  now(): Ms {
    return this.clockNow();
  }

  add(spec: BackendSpec): BackendState {
    const existing = this.get(spec.id);
    if (existing !== undefined) return existing;
    const b: BackendState = { ...spec, outstanding: 0, pendingWorkMs: 0, accepting: true };
    this.backends.push(b);
    if (b.models !== undefined) this.restricted++;
    this.version++;
    return b;
  }

  /**
   * What a policy sees for a request of `model`: the backends that serve it. The tracker itself
   * while every backend serves every model (the common case costs nothing).
   */
  viewFor(model: string): PoolView {
    if (this.restricted === 0) return this;
    let v = this.views.get(model);
    if (v === undefined) {
      v = new ModelView(this, model);
      this.views.set(model, v);
    }
    if (v.version !== this.version) {
      v.backends.length = 0;
      for (const b of this.backends) if (serves(b, model)) v.backends.push(b);
      v.version = this.version;
    }
    return v;
  }

  get(id: string): BackendState | undefined {
    return this.backends.find((b) => b.id === id);
  }

  /** Stops new work to a backend; in-flight work finishes. */
  drain(id: string): BackendState | undefined {
    const b = this.get(id);
    if (b !== undefined) b.accepting = false;
    return b;
  }

  remove(id: string): void {
    const i = this.backends.findIndex((b) => b.id === id);
    if (i < 0) return;
    if (this.backends[i]!.models !== undefined) this.restricted--;
    this.backends.splice(i, 1);
    this.version++;
  }

  expectedServiceMs(backend: BackendState, req: RoutableRequest): number {
    let c = this.cache.get(backend);
    if (c === undefined || c.model !== req.model) {
      c = { model: req.model, table: serves(backend, req.model) ? this.profileOf(backend.type, req.model) : undefined };
      this.cache.set(backend, c);
    }
    const t = c.table;
    if (t === undefined || !t.covers(req.size)) return NaN;
    return t.meanMs(req.size);
  }

  /** Call when a request is sent to `b`; `expectedMs` is what expectedServiceMs said. */
  dispatched(b: BackendState, expectedMs: number): void {
    b.outstanding++;
    b.pendingWorkMs += Number.isFinite(expectedMs) ? expectedMs : 0;
  }

  /** Call when that request finishes (success or failure), with the same `expectedMs`. */
  finished(b: BackendState, expectedMs: number): void {
    b.outstanding = Math.max(0, b.outstanding - 1);
    b.pendingWorkMs = b.outstanding === 0 ? 0 : Math.max(0, b.pendingWorkMs - (Number.isFinite(expectedMs) ? expectedMs : 0));
  }
}

/** The tracker seen through one model: only the backends that serve it (same state objects). */
class ModelView implements PoolView {
  readonly backends: BackendState[] = [];
  version = -1;
  private readonly tracker: PoolTracker;
  readonly model: string;

  constructor(tracker: PoolTracker, model: string) {
    this.tracker = tracker;
    this.model = model;
  }

  get rng(): Rng {
    return this.tracker.rng;
  }

  get lateBinding(): boolean {
    return this.tracker.lateBinding;
  }

  now(): Ms {
    return this.tracker.now();
  }

  expectedServiceMs(backend: BackendState, req: RoutableRequest): number {
    return this.tracker.expectedServiceMs(backend, req);
  }
}
