import type { ProfileTable } from '../catalog/profiles.ts';
import type { Rng } from '../core/rng.ts';
import type { Ms } from '../core/types.ts';
import type { BackendSpec, BackendState, PoolView, RoutableRequest } from './types.ts';

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
    return b;
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
    if (i >= 0) this.backends.splice(i, 1);
  }

  expectedServiceMs(backend: BackendState, req: RoutableRequest): number {
    let c = this.cache.get(backend);
    if (c === undefined || c.model !== req.model) {
      c = { model: req.model, table: this.profileOf(backend.type, req.model) };
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
