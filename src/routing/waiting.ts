import type { Ms } from '../core/types.ts';
import type { BackendState, PoolView, RoutableRequest, RoutingPolicy } from './types.ts';

/**
 * Late binding's waiting room: requests that found every backend busy, oldest first, each with
 * the caller's handle (a request id in the simulator, a pending HTTP exchange in the router).
 * Both call the same methods at the same points — `hold` when the policy says 'overloaded',
 * `bind` whenever a backend has a free slot, `expire` before binding — so the policy sees the
 * same state in simulation and production.
 */
export class WaitQueue<T> {
  readonly max: number;
  private readonly reqs: RoutableRequest[] = [];
  private readonly handles: T[] = [];
  /** Handle of the request the last `bind` returned. */
  boundHandle: T | undefined;
  /** Request the last `bind` returned. */
  boundReq: RoutableRequest | undefined;

  constructor(max: number) {
    this.max = max;
  }

  get length(): number {
    return this.reqs.length;
  }

  /** Holds a request; false when the queue is full (the caller rejects it as overloaded). */
  hold(req: RoutableRequest, handle: T): boolean {
    if (this.reqs.length >= this.max) return false;
    this.reqs.push(req);
    this.handles.push(handle);
    return true;
  }

  /**
   * Removes the requests whose deadline has passed by `now` (no backend can meet it any more),
   * handing each to `onExpired`. Returns how many.
   */
  expire(now: Ms, onExpired: (handle: T, req: RoutableRequest) => void): number {
    let n = 0;
    for (let i = 0; i < this.reqs.length; ) {
      const r = this.reqs[i]!;
      if (r.deadlineMs <= now) {
        onExpired(this.removeAt(i), r);
        n++;
      } else i++;
    }
    return n;
  }

  /**
   * Backend `b` has a free slot: removes the waiting request the policy gives it and returns
   * true (read it from boundReq / boundHandle), or false when it takes none.
   */
  bind(b: BackendState, policy: RoutingPolicy, view: PoolView): boolean {
    this.boundHandle = undefined;
    this.boundReq = undefined;
    if (this.reqs.length === 0 || !b.accepting || b.outstanding >= b.slots) return false;
    // Without a pickWaiting of its own, a policy serves the waiting requests first come, first served.
    const i = policy.pickWaiting !== undefined ? policy.pickWaiting(b, this.reqs, view) : 0;
    if (i < 0 || i >= this.reqs.length) return false;
    this.boundReq = this.reqs[i]!;
    this.boundHandle = this.removeAt(i);
    return true;
  }

  /** The i-th waiting request, oldest first. */
  at(i: number): RoutableRequest | undefined {
    return this.reqs[i];
  }

  /** Removes the i-th waiting request and returns its handle (no splice: it would allocate). */
  removeAt(i: number): T {
    const reqs = this.reqs;
    const handles = this.handles;
    const h = handles[i]!;
    if (i === 0) {
      reqs.shift();
      handles.shift();
      return h;
    }
    const last = reqs.length - 1;
    for (let j = i; j < last; j++) {
      reqs[j] = reqs[j + 1]!;
      handles[j] = handles[j + 1]!;
    }
    reqs.pop();
    handles.pop();
    return h;
  }

  /** Removes the request held with `handle` (the client went away); false when it is not waiting. */
  remove(handle: T): boolean {
    const i = this.handles.indexOf(handle);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Removes and returns every waiting handle (shutdown, or no backend left). */
  drainAll(): T[] {
    this.reqs.length = 0;
    return this.handles.splice(0, this.handles.length);
  }
}
