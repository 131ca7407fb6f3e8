import type { Ms } from './types.ts';

/**
 * Time and timers. Control, routing and policy code take a Clock instead of calling
 * Date.now/setTimeout, so the simulator can run the same code on simulated time.
 */
export interface Clock {
  now(): Ms;
  setTimeout(fn: () => void, delayMs: Ms): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  sleep(ms: Ms): Promise<void>;
}

/** The longest delay a Node timer takes (2³¹−1 ms, about 24.8 days): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay as a Node timer (or AbortSignal.timeout, or undici's timeouts) can honour: capped at MAX_TIMER_MS. */
export function timerMs(ms: Ms): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}

export interface TimerHandle {
  readonly id: number;
}

export class RealClock implements Clock {
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private nextId = 1;

  now(): Ms {
    return performance.timeOrigin + performance.now();
  }

  setTimeout(fn: () => void, delayMs: Ms): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, timerMs(delayMs));
    this.timers.set(id, t);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }

  sleep(ms: Ms): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }
}

interface SimTimer {
  readonly at: Ms;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * Simulated time: advances only when told to. Timers fire in (time, seq) order, so two
 * timers due at the same instant fire in the order they were set: runs are reproducible.
 */
export class SimClock implements Clock {
  private t: Ms;
  private seq = 0;
  private readonly heap: SimTimer[] = [];
  private readonly cancelled = new Set<number>();

  constructor(startMs: Ms = 0) {
    this.t = startMs;
  }

  now(): Ms {
    return this.t;
  }

  setTimeout(fn: () => void, delayMs: Ms): TimerHandle {
    const timer: SimTimer = { at: this.t + Math.max(0, delayMs), seq: this.seq++, fn };
    this.push(timer);
    return { id: timer.seq };
  }

  clearTimeout(handle: TimerHandle): void {
    this.cancelled.add(handle.id);
  }

  sleep(ms: Ms): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** Time of the earliest pending timer, or Infinity. */
  nextTimerAt(): Ms {
    this.dropCancelledTop();
    return this.heap[0]?.at ?? Infinity;
  }

  /** Moves time forward to `t`, firing every timer due at or before it. Time never goes back. */
  advanceTo(t: Ms): void {
    for (let timer = this.takeDue(t); timer !== undefined; timer = this.takeDue(t)) timer.fn();
    this.t = Math.max(this.t, t);
  }

  /**
   * Like advanceTo, but lets promise chains started by each timer settle before the next
   * fires: async control code (await provider.launch(...)) completes at the simulated
   * instant it started, as long as it awaits only simulated I/O.
   */
  async advanceToSettled(t: Ms): Promise<void> {
    for (let timer = this.takeDue(t); timer !== undefined; timer = this.takeDue(t)) {
      timer.fn();
      await settle();
    }
    this.t = Math.max(this.t, t);
  }

  /** Removes the earliest timer due at or before `t` and moves time to it; undefined when none is due. */
  private takeDue(t: Ms): SimTimer | undefined {
    this.dropCancelledTop();
    const top = this.heap[0];
    if (top === undefined || top.at > t) return undefined;
    this.pop();
    this.t = Math.max(this.t, top.at);
    return top;
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.cancelled.has(this.heap[0]!.seq)) {
      this.cancelled.delete(this.heap[0]!.seq);
      this.pop();
    }
  }

  private less(a: SimTimer, b: SimTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(x: SimTimer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/** Resolves after every queued microtask (and the ones they queue) has run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
