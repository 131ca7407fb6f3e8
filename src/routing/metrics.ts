import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { LatencyHistogram } from '../core/histogram.ts';
import type { RequestClass } from '../core/types.ts';
import type { ClassSnapshot, PoolSnapshot, RouterSnapshot } from './snapshot.ts';
import type { BackendState, RejectReason } from './types.ts';

/** Why the router itself answered instead of a backend. */
export type RouterRejectReason = RejectReason | 'shutting-down';

/** Cumulative numbers of one (class, backend) pair, for /metrics. */
interface Cell {
  readonly classIndex: number;
  readonly backend: string;
  readonly pool: string;
  readonly type: string;
  readonly latency: LatencyHistogram;
  /** Responses by HTTP status. */
  readonly statuses: Map<number, number>;
}

interface ClassSlot {
  arrivals: number;
  completed: number;
  rejected: number;
  readonly latency: LatencyHistogram;
  readonly sizes: Map<number, number>;
}

interface PoolSlot {
  completed: number;
  busyMs: number;
  readonly latency: LatencyHistogram;
}

/** One sub-window of the snapshot window. Slots are reused in a ring, never reallocated. */
interface Slot {
  startMs: number;
  readonly classes: ClassSlot[];
  readonly pools: Map<string, PoolSlot>;
}

/** Sub-windows per snapshot window: the reported window slides in steps of window/SLOTS. */
const SLOTS = 6;
const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

/**
 * Request metrics: HDR latency histograms per (class → model, pool, backend), counts, sizes
 * and rejections; a Prometheus registry that renders them at scrape time (nothing per request
 * but a histogram record and a few increments); and a sliding window for /v1/snapshot.
 */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly cells = new Map<BackendState, Cell[]>();
  /**
   * Removed backends' history, merged per (class, pool): the class and pool latency summaries
   * keep it (their counts never go back), and memory stays bounded however many backends come
   * and go. A removed backend's own series (requests_total, backend_latency_seconds) end with
   * it, as a scrape target's do: moving its totals under another label would show its whole
   * lifetime as one burst of traffic there.
   */
  private readonly retired = new Map<string, Cell>();
  /** Backends already retired (a request still in flight to one may finish after). */
  private readonly gone = new WeakSet<BackendState>();
  private readonly rejections: Array<Map<RouterRejectReason, number>>;
  private readonly sizeSums: number[];
  /** Per class, since start: requests that arrived, and those whose client left while they waited for a slot. */
  private readonly arrivalCounts: number[];
  private readonly abandonedCounts: number[];
  private readonly slots: Slot[] = [];
  private readonly slotMs: number;
  /** Per backend: when its busy time was last integrated. */
  private readonly busySince = new WeakMap<BackendState, number>();
  private readonly startedAtMs: number;
  /** Per class, since the last takeInterval(): only kept once a publisher asked for it. */
  private interval: Array<{ arrivals: number; completed: number; rejected: number; latency: LatencyHistogram }> | undefined;

  constructor(
    readonly classes: readonly RequestClass[],
    readonly windowMs: number,
    private readonly now: () => number,
    private readonly backends: () => readonly BackendState[],
    private readonly healthOf: (b: BackendState) => boolean,
    /** Requests waiting at the router (late binding). */
    readonly waiting: () => number = () => 0,
  ) {
    this.rejections = classes.map(() => new Map());
    this.sizeSums = classes.map(() => 0);
    this.arrivalCounts = classes.map(() => 0);
    this.abandonedCounts = classes.map(() => 0);
    this.slotMs = windowMs / SLOTS;
    this.startedAtMs = now();
    const start = this.slotStart(now());
    for (let i = 0; i <= SLOTS; i++) this.slots.push(this.newSlot(start - (SLOTS - i) * this.slotMs));
    this.registerPrometheus();
  }

  /** A request arrived (before routing). */
  arrived(classIndex: number, size: number): void {
    const c = this.current().classes[classIndex]!;
    c.arrivals++;
    const s = Math.round(size);
    c.sizes.set(s, (c.sizes.get(s) ?? 0) + 1);
    this.sizeSums[classIndex]! += size;
    this.arrivalCounts[classIndex]!++;
    if (this.interval !== undefined) this.interval[classIndex]!.arrivals++;
  }

  /** The client went away while its request waited for a backend slot: nothing was sent or answered. */
  abandoned(classIndex: number): void {
    this.abandonedCounts[classIndex]!++;
  }

  /** The router answered a request itself (no backend, deadline, overload...). */
  rejected(classIndex: number, reason: RouterRejectReason): void {
    this.current().classes[classIndex]!.rejected++;
    if (this.interval !== undefined) this.interval[classIndex]!.rejected++;
    const m = this.rejections[classIndex]!;
    m.set(reason, (m.get(reason) ?? 0) + 1);
  }

  /** Call before a backend's outstanding count changes, so its busy time is integrated. */
  beforeLoadChange(b: BackendState): void {
    const t = this.now();
    const since = this.busySince.get(b) ?? t;
    this.busySince.set(b, t);
    if (t <= since || b.outstanding === 0) return;
    const busy = (Math.min(b.outstanding, b.slots) / b.slots) * (t - since);
    this.poolSlot(this.current(), b.pool).busyMs += busy;
  }

  /** A backend answered (any status): latency from arrival to the end of the response. */
  completed(classIndex: number, b: BackendState, status: number, latencyMs: number): void {
    const cell = this.cell(b, classIndex);
    cell.latency.record(latencyMs);
    this.countStatus(cell, b, status);
    const slot = this.current();
    const c = slot.classes[classIndex]!;
    c.completed++;
    c.latency.record(latencyMs);
    const p = this.poolSlot(slot, b.pool);
    p.completed++;
    p.latency.record(latencyMs);
    if (this.interval !== undefined) {
      const i = this.interval[classIndex]!;
      i.completed++;
      i.latency.record(latencyMs);
    }
  }

  /**
   * A request dispatched to a backend that ended without a whole answer the latency could
   * describe: the backend broke off an answer it had begun (502), or the client went away (499,
   * nginx's "client closed request"). Counted in requests_total by status, not in the latency
   * summaries or the snapshot.
   */
  ended(classIndex: number, b: BackendState, status: number): void {
    this.countStatus(this.cell(b, classIndex), b, status);
  }

  /** One answer of `status` in requests_total; none for a removed backend, whose series have ended. */
  private countStatus(cell: Cell, b: BackendState, status: number): void {
    if (!this.gone.has(b)) cell.statuses.set(status, (cell.statuses.get(status) ?? 0) + 1);
  }

  /**
   * Per class: what happened since the previous call (the first call starts counting and
   * returns zeros). For publishers that push deltas, such as CloudWatch.
   */
  takeInterval(): Array<{ readonly cls: RequestClass; readonly arrivals: number; readonly completed: number; readonly rejected: number; readonly latency: LatencyHistogram }> {
    const prev = this.interval;
    this.interval = this.classes.map(() => ({ arrivals: 0, completed: 0, rejected: 0, latency: new LatencyHistogram() }));
    return this.classes.map((cls, i) => ({ cls, ...(prev?.[i] ?? { arrivals: 0, completed: 0, rejected: 0, latency: new LatencyHistogram() }) }));
  }

  /** Keeps a removed backend's history in the cumulative numbers. */
  retire(b: BackendState): void {
    const cells = this.cells.get(b);
    if (cells !== undefined) {
      for (const c of cells) {
        if (c === undefined) continue;
        const r = this.retiredCell(c.classIndex, c.pool, c.type);
        r.latency.merge(c.latency); // latency only: a removed backend's status counts end with its series
      }
    }
    this.cells.delete(b);
    this.gone.add(b);
  }

  /** The merged history of the removed backends of one (class, pool). */
  private retiredCell(classIndex: number, pool: string, type: string): Cell {
    const key = `${classIndex}\0${pool}`;
    let r = this.retired.get(key);
    if (r === undefined) {
      r = { classIndex, backend: '', pool, type, latency: new LatencyHistogram(), statuses: new Map() };
      this.retired.set(key, r);
    }
    return r;
  }

  /** The slots that start within the last window, the current partial one included, merged (`windowMs` says the span they cover). */
  snapshot(): RouterSnapshot {
    const now = this.now();
    this.current();
    // Whole slots that start inside the window: the span covered is from the oldest of them
    // (or from when the router started) to now.
    const from = now - this.windowMs;
    const live = this.slots.filter((s) => s.startMs >= from);
    const spanMs = Math.max(1, now - Math.max(this.startedAtMs, Math.min(...live.map((s) => s.startMs))));
    const classes: ClassSnapshot[] = this.classes.map((cls, i) => {
      const latency = new LatencyHistogram();
      const sizes = new Map<number, number>();
      let arrivals = 0;
      let completed = 0;
      let rejected = 0;
      for (const s of live) {
        const c = s.classes[i]!;
        arrivals += c.arrivals;
        completed += c.completed;
        rejected += c.rejected;
        latency.merge(c.latency);
        for (const [size, n] of c.sizes) sizes.set(size, (sizes.get(size) ?? 0) + n);
      }
      return {
        name: cls.name,
        model: cls.model,
        arrivals,
        rps: (arrivals * 1000) / spanMs,
        completed,
        rejected,
        sizes: [...sizes.entries()].sort((a, b) => a[0] - b[0]),
        latency: latency.encode(),
      };
    });
    for (const b of this.backends()) this.beforeLoadChange(b);
    // Busy time is integrated as a fraction of each backend's slots, so a backend's capacity is 1 per ms.
    const byPool = new Map<string, { type: string; backends: number }>();
    for (const b of this.backends()) {
      const e = byPool.get(b.pool) ?? { type: b.type, backends: 0 };
      e.backends++;
      byPool.set(b.pool, e);
    }
    const poolNames = new Set<string>([...byPool.keys()]);
    for (const s of live) for (const p of s.pools.keys()) poolNames.add(p);
    const pools: PoolSnapshot[] = [...poolNames].sort().map((pool) => {
      const latency = new LatencyHistogram();
      let completed = 0;
      let busyMs = 0;
      for (const s of live) {
        const p = s.pools.get(pool);
        if (p === undefined) continue;
        completed += p.completed;
        busyMs += p.busyMs;
        latency.merge(p.latency);
      }
      const e = byPool.get(pool);
      const capacityMs = (e?.backends ?? 0) * spanMs;
      return {
        pool,
        type: e?.type ?? this.typeOfRetiredPool(pool),
        backends: e?.backends ?? 0,
        completed,
        utilization: capacityMs > 0 ? Math.min(1, busyMs / capacityMs) : 0,
        latency: latency.encode(),
      };
    });
    return { atMs: now, windowMs: spanMs, classes, pools };
  }

  private typeOfRetiredPool(pool: string): string {
    for (const c of this.retired.values()) if (c.pool === pool) return c.type;
    return 'unknown';
  }

  private cell(b: BackendState, classIndex: number): Cell {
    // A request that finishes after its backend was removed joins the removed backends' history.
    if (this.gone.has(b)) return this.retiredCell(classIndex, b.pool, b.type);
    let cells = this.cells.get(b);
    if (cells === undefined) {
      cells = [];
      this.cells.set(b, cells);
    }
    let c = cells[classIndex];
    if (c === undefined) {
      c = { classIndex, backend: b.id, pool: b.pool, type: b.type, latency: new LatencyHistogram(), statuses: new Map() };
      cells[classIndex] = c;
    }
    return c;
  }

  private slotStart(t: number): number {
    return Math.floor(t / this.slotMs) * this.slotMs;
  }

  private newSlot(startMs: number): Slot {
    return {
      startMs,
      classes: this.classes.map(() => ({ arrivals: 0, completed: 0, rejected: 0, latency: new LatencyHistogram(), sizes: new Map() })),
      pools: new Map(),
    };
  }

  private poolSlot(slot: Slot, pool: string): PoolSlot {
    let p = slot.pools.get(pool);
    if (p === undefined) {
      p = { completed: 0, busyMs: 0, latency: new LatencyHistogram() };
      slot.pools.set(pool, p);
    }
    return p;
  }

  /** The slot for now, rotating the ring (reusing the oldest slot) when time moved on. */
  private current(): Slot {
    const start = this.slotStart(this.now());
    const last = this.slots[this.slots.length - 1]!;
    if (last.startMs >= start) return last;
    const steps = Math.min(this.slots.length, Math.round((start - last.startMs) / this.slotMs));
    for (let k = steps - 1; k >= 0; k--) {
      const s = this.slots.shift()!;
      s.startMs = start - k * this.slotMs;
      for (const c of s.classes) {
        c.arrivals = 0;
        c.completed = 0;
        c.rejected = 0;
        c.latency.reset();
        c.sizes.clear();
      }
      for (const p of s.pools.values()) {
        p.completed = 0;
        p.busyMs = 0;
        p.latency.reset();
      }
      this.slots.push(s);
    }
    return this.slots[this.slots.length - 1]!;
  }

  /** The live backends' cells, and with `retired` the removed backends' merged history too. */
  private allCells(retired: boolean): Cell[] {
    const out: Cell[] = retired ? [...this.retired.values()] : [];
    for (const cells of this.cells.values()) for (const c of cells) if (c !== undefined) out.push(c);
    return out;
  }

  private registerPrometheus(): void {
    const metrics = this;
    const reg = this.registry;
    // No collectDefaultMetrics: three of prom-client's process gauges end in _total, which
    // Prometheus' own linter rejects; process metrics belong to the node exporter anyway.
    const classLabels = (i: number): { model: string; class: string } => ({ model: metrics.classes[i]!.model, class: metrics.classes[i]!.name });
    new Counter({
      name: 'mixscale_router_requests_total',
      help: 'Requests answered by a backend, by model, class, pool, backend and HTTP status.',
      labelNames: ['model', 'class', 'pool', 'backend', 'code'],
      registers: [reg],
      collect() {
        this.reset();
        for (const c of metrics.allCells(false)) {
          for (const [code, n] of c.statuses) this.inc({ ...classLabels(c.classIndex), pool: c.pool, backend: c.backend, code: String(code) }, n);
        }
      },
    });
    new Counter({
      name: 'mixscale_router_rejections_total',
      help: 'Requests the router answered itself (503 / 504), by model, class and reason.',
      labelNames: ['model', 'class', 'reason'],
      registers: [reg],
      collect() {
        this.reset();
        metrics.rejections.forEach((m, i) => {
          for (const [reason, n] of m) this.inc({ ...classLabels(i), reason }, n);
        });
      },
    });
    /** A counter per class, read at scrape time from one number per class. */
    const perClass = (name: string, help: string, values: readonly number[]): void => {
      new Counter({
        name,
        help,
        labelNames: ['model', 'class'],
        registers: [reg],
        collect() {
          this.reset();
          values.forEach((n, i) => this.inc(classLabels(i), n));
        },
      });
    };
    perClass(
      'mixscale_router_arrivals_total',
      'Requests that arrived (parsed and classified), by model and class: each ends answered by a backend (requests_total), by the router (rejections_total) or abandoned (abandoned_total), or is still in flight or waiting.',
      metrics.arrivalCounts,
    );
    perClass(
      'mixscale_router_abandoned_total',
      'Requests whose client went away while they waited for a backend slot (late binding): none was sent to a backend, none answered; by model and class.',
      metrics.abandonedCounts,
    );
    perClass('mixscale_router_request_size_total', 'Sum of request sizes (batch, the unit of the service-time profiles), by model and class.', metrics.sizeSums);
    // Registered as a plain metric object: prom-client's Metric union only names its own classes.
    const hdrSummary = (name: string, help: string, groups: () => Array<{ labels: Record<string, string>; h: LatencyHistogram }>): void => {
      reg.registerMetric(new HdrSummary(name, help, groups) as unknown as Metric);
    };
    const merged = (retired: boolean, key: (c: Cell) => string, labels: (c: Cell) => Record<string, string>): Array<{ labels: Record<string, string>; h: LatencyHistogram }> => {
      const groups = new Map<string, { labels: Record<string, string>; h: LatencyHistogram }>();
      for (const c of metrics.allCells(retired)) {
        const k = key(c);
        let g = groups.get(k);
        if (g === undefined) {
          g = { labels: labels(c), h: new LatencyHistogram() };
          groups.set(k, g);
        }
        g.h.merge(c.latency);
      }
      return [...groups.values()];
    };
    hdrSummary('mixscale_router_backend_latency_seconds', 'End-to-end latency since start (HDR), by model, class, pool and backend.', () =>
      merged(false, (c) => `${c.classIndex}\0${c.pool}\0${c.backend}`, (c) => ({ ...classLabels(c.classIndex), pool: c.pool, backend: c.backend })),
    );
    hdrSummary('mixscale_router_class_latency_seconds', 'End-to-end latency since start (HDR), by model and class.', () =>
      merged(true, (c) => String(c.classIndex), (c) => classLabels(c.classIndex)),
    );
    hdrSummary('mixscale_router_pool_latency_seconds', 'End-to-end latency since start (HDR), by pool.', () => merged(true, (c) => c.pool, (c) => ({ pool: c.pool })));
    new Gauge({
      name: 'mixscale_router_waiting_requests',
      help: 'Requests waiting at the router for a free backend slot (late binding).',
      registers: [reg],
      collect() {
        this.set(metrics.waiting());
      },
    });
    new Gauge({
      name: 'mixscale_router_backend_in_flight',
      help: 'Requests in flight to each backend.',
      labelNames: ['backend', 'pool', 'type'],
      registers: [reg],
      collect() {
        this.reset();
        for (const b of metrics.backends()) this.set({ backend: b.id, pool: b.pool, type: b.type }, b.outstanding);
      },
    });
    new Gauge({
      name: 'mixscale_router_backend_up',
      help: '1 while a backend passes health checks, else 0.',
      labelNames: ['backend', 'pool', 'type'],
      registers: [reg],
      collect() {
        this.reset();
        for (const b of metrics.backends()) this.set({ backend: b.id, pool: b.pool, type: b.type }, metrics.healthOf(b) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'mixscale_router_backend_accepting',
      help: '1 while a backend takes new requests (healthy and not draining), else 0.',
      labelNames: ['backend', 'pool', 'type'],
      registers: [reg],
      collect() {
        this.reset();
        for (const b of metrics.backends()) this.set({ backend: b.id, pool: b.pool, type: b.type }, b.accepting ? 1 : 0);
      },
    });
  }
}

/** One line of a summary as prom-client's registry renders it. */
interface SummaryValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * A Prometheus summary whose quantiles come from HDR histograms at scrape time. prom-client's
 * own Summary keeps its own sample store; this lets the router record each request once.
 */
class HdrSummary {
  readonly type = 'summary';
  readonly aggregator = 'omit';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly groups: () => Array<{ labels: Record<string, string>; h: LatencyHistogram }>,
  ) {}

  get(): Promise<{ name: string; help: string; type: 'summary'; aggregator: 'omit'; values: SummaryValue[] }> {
    const values: SummaryValue[] = [];
    for (const { labels, h } of this.groups()) {
      if (h.count === 0) continue;
      for (const q of QUANTILES) values.push({ labels: { ...labels, quantile: q }, value: h.quantile(q) / 1000 });
      values.push({ metricName: `${this.name}_sum`, labels, value: (h.meanMs * h.count) / 1000 });
      values.push({ metricName: `${this.name}_count`, labels, value: h.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: 'summary', aggregator: 'omit', values });
  }

  reset(): void {}
}
