import type { Ms } from '../core/types.ts';
import { serves, type BackendState, type PoolView, type RoutableRequest, type RoutingPolicy } from './types.ts';

/** What `bind` reads the backends through: a PoolTracker (a view per model) or a plain view. */
export type WaitViews = PoolView & { viewFor?(model: string): PoolView };

/** The waiting requests of one model, oldest first, each with the caller's handle. */
export class WaitLane<T> {
  readonly model: string;
  readonly reqs: RoutableRequest[] = [];
  readonly handles: T[] = [];
  /** Per request, a backend it must not be bound to (a retry: the one that refused it). */
  readonly excluded: Array<BackendState | undefined> = [];
  /** How many entries of `excluded` are set (0 almost always: the scan is skipped). */
  excludedCount = 0;

  constructor(model: string) {
    this.model = model;
  }

  get length(): number {
    return this.reqs.length;
  }

  /** The i-th waiting request, oldest first. */
  at(i: number): RoutableRequest | undefined {
    return this.reqs[i];
  }

  /** Removes the i-th waiting request and returns its handle (no splice: it would allocate). */
  removeAt(i: number): T {
    const reqs = this.reqs;
    const handles = this.handles;
    const excluded = this.excluded;
    const h = handles[i]!;
    if (excluded[i] !== undefined) this.excludedCount--;
    if (i === 0) {
      reqs.shift();
      handles.shift();
      excluded.shift();
      return h;
    }
    const last = reqs.length - 1;
    for (let j = i; j < last; j++) {
      reqs[j] = reqs[j + 1]!;
      handles[j] = handles[j + 1]!;
      excluded[j] = excluded[j + 1];
    }
    reqs.pop();
    handles.pop();
    excluded.pop();
    return h;
  }
}

/**
 * Late binding's waiting room: requests that found every backend busy, a lane per model, each
 * oldest first with the caller's handle (a request id in the simulator, a pending HTTP exchange
 * in the router). Both call the same methods at the same points — `hold` when the policy says
 * 'overloaded', `bind` whenever a backend has a free slot, `expire` before binding — so the
 * policy sees the same state in simulation and production.
 */
export class WaitQueue<T> {
  readonly max: number;
  private readonly lanes: WaitLane<T>[] = [];
  /** Handle of the request the last `bind` returned. */
  boundHandle: T | undefined;
  /** Request the last `bind` returned. */
  boundReq: RoutableRequest | undefined;

  constructor(max: number) {
    this.max = max;
  }

  /** Requests waiting, all models together. */
  get length(): number {
    let n = 0;
    for (const l of this.lanes) n += l.length;
    return n;
  }

  /** The waiting requests of `model` (undefined while none of that model ever waited). */
  lane(model: string): WaitLane<T> | undefined {
    for (const l of this.lanes) if (l.model === model) return l;
    return undefined;
  }

  /**
   * Holds a request; false when the queue is full (the caller rejects it as overloaded). A retry
   * names the backend that refused it (`exclude`): it is never bound to that one.
   */
  hold(req: RoutableRequest, handle: T, exclude?: BackendState): boolean {
    if (this.length >= this.max) return false;
    let lane = this.lane(req.model);
    if (lane === undefined) {
      lane = new WaitLane<T>(req.model);
      this.lanes.push(lane);
    }
    lane.reqs.push(req);
    lane.handles.push(handle);
    lane.excluded.push(exclude);
    if (exclude !== undefined) lane.excludedCount++;
    return true;
  }

  /**
   * Removes the requests whose deadline has passed by `now` (no backend can meet it any more),
   * handing each to `onExpired`. Returns how many.
   */
  expire(now: Ms, onExpired: (handle: T, req: RoutableRequest) => void): number {
    let n = 0;
    for (const lane of this.lanes) {
      for (let i = 0; i < lane.reqs.length; ) {
        const r = lane.reqs[i]!;
        if (r.deadlineMs <= now) {
          onExpired(lane.removeAt(i), r);
          n++;
        } else i++;
      }
    }
    return n;
  }

  /**
   * Removes the waiting requests no backend is left to take: `stranded` says, for a model and a
   * request's excluded backend (a retry's refuser, else undefined), whether none other serves
   * it. Each goes to `onRemoved` with its excluded backend.
   */
  removeStranded(
    stranded: (model: string, excluded: BackendState | undefined) => boolean,
    onRemoved: (handle: T, req: RoutableRequest, excluded: BackendState | undefined) => void,
  ): void {
    for (const lane of this.lanes) {
      if (lane.length === 0) continue;
      const all = stranded(lane.model, undefined);
      if (!all && lane.excludedCount === 0) continue;
      for (let i = 0; i < lane.length; ) {
        const ex = lane.excluded[i];
        if (all || (ex !== undefined && stranded(lane.model, ex))) {
          const r = lane.reqs[i]!;
          onRemoved(lane.removeAt(i), r, ex);
        } else i++;
      }
    }
  }

  /**
   * Backend `b` has a free slot: removes the waiting request the policy gives it and returns
   * true (read it from boundReq / boundHandle), or false when it takes none. Only requests of
   * models `b` serves are offered, the lane whose oldest request waited longest first; the
   * policy sees the backends through that model's view.
   */
  bind(b: BackendState, policy: RoutingPolicy, views: WaitViews): boolean {
    this.boundHandle = undefined;
    this.boundReq = undefined;
    if (!b.accepting || b.outstanding >= b.slots) return false;
    if (this.lanes.length === 1) return this.bindLane(this.lanes[0]!, b, policy, views);
    // Several models: oldest head first; a lane the policy declines leaves the slot to the next.
    const order = this.lanes.filter((l) => l.length > 0).sort((x, y) => x.reqs[0]!.arrivalMs - y.reqs[0]!.arrivalMs);
    for (const l of order) if (this.bindLane(l, b, policy, views)) return true;
    return false;
  }

  private bindLane(lane: WaitLane<T>, b: BackendState, policy: RoutingPolicy, views: WaitViews): boolean {
    if (lane.length === 0 || !serves(b, lane.model)) return false;
    const view = views.viewFor !== undefined ? views.viewFor(lane.model) : views;
    // A retry is not offered to the backend that refused it: the policy sees the others only.
    let reqs: readonly RoutableRequest[] = lane.reqs;
    let at: number[] | undefined;
    if (lane.excludedCount > 0 && lane.excluded.includes(b)) {
      at = [];
      for (let k = 0; k < lane.length; k++) if (lane.excluded[k] !== b) at.push(k);
      reqs = at.map((k) => lane.reqs[k]!);
      if (reqs.length === 0) return false;
    }
    // Without a pickWaiting of its own, a policy serves the waiting requests first come, first served.
    const j = policy.pickWaiting !== undefined ? policy.pickWaiting(b, reqs, view) : 0;
    if (j < 0 || j >= reqs.length) return false;
    const i = at === undefined ? j : at[j]!;
    this.boundReq = lane.reqs[i]!;
    this.boundHandle = lane.removeAt(i);
    return true;
  }

  /** Removes the request held with `handle` (the client went away); false when it is not waiting. */
  remove(handle: T): boolean {
    for (const lane of this.lanes) {
      const i = lane.handles.indexOf(handle);
      if (i >= 0) {
        lane.removeAt(i);
        return true;
      }
    }
    return false;
  }

  /** Removes and returns every waiting handle (shutdown, or no backend left). */
  drainAll(): T[] {
    const out: T[] = [];
    for (const lane of this.lanes) {
      out.push(...lane.handles);
      lane.reqs.length = 0;
      lane.handles.length = 0;
      lane.excluded.length = 0;
      lane.excludedCount = 0;
    }
    return out;
  }
}
