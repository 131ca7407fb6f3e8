import type { ProfileTable } from '../src/catalog/profiles.ts';
import type { Instance, Ms } from '../src/core/types.ts';
import type { BackendState } from '../src/routing/types.ts';

/**
 * Requests in flight, as parallel typed arrays indexed by a slot id that is recycled once the
 * request leaves: no object per request on the hot path.
 */
export class RequestTable {
  arrival: Float64Array;
  size: Float64Array;
  /** Request class index. */
  cls: Int32Array;
  /** Expected service time the router counted for it (PoolTracker bookkeeping). */
  expected: Float64Array;
  /** Service node index. */
  node: Int32Array;
  /** Next request served in the same batch (-1: last). */
  nextInBatch: Int32Array;
  private free: Int32Array;
  private freeCount: number;
  private capacity: number;
  /** Requests currently held. */
  live = 0;

  constructor(capacity = 4096) {
    this.capacity = capacity;
    this.arrival = new Float64Array(capacity);
    this.size = new Float64Array(capacity);
    this.cls = new Int32Array(capacity);
    this.expected = new Float64Array(capacity);
    this.node = new Int32Array(capacity);
    this.nextInBatch = new Int32Array(capacity).fill(-1);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeCount = capacity;
  }

  alloc(): number {
    if (this.freeCount === 0) this.grow();
    this.live++;
    return this.free[--this.freeCount]!;
  }

  release(id: number): void {
    this.live--;
    this.free[this.freeCount++] = id;
  }

  private grow(): void {
    const old = this.capacity;
    const cap = old * 2;
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(cap);
      b.set(a);
      return b;
    };
    this.arrival = f64(this.arrival);
    this.size = f64(this.size);
    this.expected = f64(this.expected);
    this.cls = i32(this.cls);
    this.node = i32(this.node);
    const next = new Int32Array(cap).fill(-1);
    next.set(this.nextInBatch);
    this.nextInBatch = next;
    this.free = new Int32Array(cap);
    for (let i = 0; i < cap - old; i++) this.free[i] = cap - 1 - i;
    this.freeCount = cap - old;
    this.capacity = cap;
  }
}

/**
 * Mean service times of one (type, model) by integer size, filled on first use: routing asks
 * for the mean of every request, and sizes repeat (Kairos' are multiples of 10).
 */
export class MeanServiceCache {
  readonly table: ProfileTable;
  private readonly bySize: Float64Array;

  constructor(table: ProfileTable) {
    this.table = table;
    this.bySize = new Float64Array(Math.floor(table.maxSize) + 1).fill(NaN);
  }

  meanMs(size: number): Ms {
    if (Number.isInteger(size) && size < this.bySize.length) {
      const cached = this.bySize[size]!;
      if (!Number.isNaN(cached)) return cached;
      return (this.bySize[size] = this.table.meanMs(size));
    }
    return this.table.meanMs(size);
  }
}

/**
 * One simulated instance serving requests: `slots` at a time, the rest wait in FIFO order.
 * Service times are drawn by the caller from the measured profile for (type, model, size).
 */
export class ServiceNode {
  readonly index: number;
  readonly instance: Instance;
  /** The routing state PoolTracker keeps for this backend. */
  readonly backend: BackendState;
  /** Index of its type among the run's types (for per-type recording). */
  readonly typeIndex: number;
  /** Profile per request class (the class's model on this type); undefined where its pool does not serve that model. */
  readonly tables: readonly (ProfileTable | undefined)[];
  /** Mean service time per request class, cached by size (shared by the pool's nodes). */
  readonly means: readonly (MeanServiceCache | undefined)[];
  readonly slots: number;
  busy = 0;
  /** Terminated: whatever it still holds is lost. */
  gone = false;
  /** Counted as serving capacity (registered, not yet drained or gone). */
  counted = false;
  private queue = new Int32Array(16);
  private head = 0;
  queued = 0;

  constructor(index: number, instance: Instance, backend: BackendState, typeIndex: number, means: readonly (MeanServiceCache | undefined)[]) {
    this.index = index;
    this.instance = instance;
    this.backend = backend;
    this.typeIndex = typeIndex;
    this.means = means;
    this.tables = means.map((m) => m?.table);
    this.slots = backend.slots;
  }

  enqueue(req: number): void {
    if (this.queued === this.queue.length) {
      const q = new Int32Array(this.queue.length * 2);
      for (let i = 0; i < this.queued; i++) q[i] = this.queue[(this.head + i) % this.queue.length]!;
      this.queue = q;
      this.head = 0;
    }
    this.queue[(this.head + this.queued) % this.queue.length] = req;
    this.queued++;
  }

  /** The request at the head of the queue (only when queued > 0). */
  peek(): number {
    return this.queue[this.head]!;
  }

  dequeue(): number {
    const req = this.queue[this.head]!;
    this.head = (this.head + 1) % this.queue.length;
    this.queued--;
    return req;
  }

  /** Time in ms a request of class `cls` and `size` takes here, drawn with `u` in [0, 1). */
  serviceMs(cls: number, size: number, u: number): Ms {
    return this.tables[cls]!.quantileMs(size, u);
  }
}
