import { LatencyHistogram } from '../../core/histogram.ts';

/**
 * What each stage costs on this node, measured: one HDR histogram per (stage, rows in the
 * run), seeded by the warm-up and updated by every real run. Old measurements age out: a
 * histogram covers the current and the previous `windowMs` of runs, so the prediction follows
 * the machine when its load changes. A one-row window with no runs is kept rather than emptied
 * (the scheduler probes idle stages at one row so that every stage keeps being measured); a
 * multi-row histogram not run for two windows, by the node's latest measurement, is dropped,
 * so its row count falls back to the one-row figure × rows until it is measured again (else a
 * slow burst at a row count the policy then stops starting would never be forgotten).
 * Quantiles are cached because the exit policy asks for them on every decision.
 */
export class StageLatency {
  private readonly stages: Array<Map<number, WindowedHistogram>>;
  private readonly lastAt: number[];
  private readonly windowMs: number;
  /** The latest run recorded, at any stage: the clock the histograms age by. */
  private latestAt = -Infinity;

  constructor(stageCount: number, windowMs = 10_000) {
    this.stages = Array.from({ length: stageCount }, () => new Map());
    this.lastAt = new Array<number>(stageCount).fill(-Infinity);
    this.windowMs = windowMs;
  }

  /** One run of `stage` on `rows` rows that took `ms`, finished at `atMs`. */
  record(stage: number, rows: number, ms: number, atMs: number): void {
    this.latestAt = Math.max(this.latestAt, atMs);
    let h = this.histogram(stage, rows);
    if (h === undefined) this.stages[stage]!.set(rows, (h = new WindowedHistogram(this.windowMs)));
    h.record(ms, atMs);
    this.lastAt[stage] = Math.max(this.lastAt[stage]!, atMs);
  }

  /** The histogram of (stage, rows), dropped once a multi-row one has gone two windows without a run. */
  private histogram(stage: number, rows: number): WindowedHistogram | undefined {
    const m = this.stages[stage]!;
    const h = m.get(rows);
    if (h === undefined || rows === 1 || this.latestAt - h.lastAt < 2 * this.windowMs) return h;
    m.delete(rows);
    return undefined;
  }

  /** When `stage` last ran (-Infinity: never). */
  lastRunAt(stage: number): number {
    return this.lastAt[stage]!;
  }

  /** Samples recorded for (stage, rows) in the current and previous windows. */
  count(stage: number, rows: number): number {
    return this.stages[stage]!.get(rows)?.count ?? 0;
  }

  /**
   * The q-quantile of running `stage` on `rows` rows. Without enough measurements at that
   * row count, it scales the single-row figure linearly (this CPU gains nothing from
   * batching: see models/digits-cnn/README.md), which errs on the slow side when batching helps.
   */
  quantile(stage: number, rows: number, q: number): number {
    const m = this.stages[stage]!;
    const exact = this.histogram(stage, rows);
    if (exact !== undefined && exact.count >= MIN_SAMPLES) return exact.quantile(q);
    const one = m.get(1);
    if (one !== undefined && one.count > 0) return one.quantile(q) * rows;
    let best = Infinity;
    for (const [r, h] of m) if (h.count > 0) best = Math.min(best, (h.quantile(q) / r) * rows);
    return best;
  }

  /**
   * The median time of running `stage` on `rows` rows as the impossible-bound check needs it:
   * measured at the largest row count up to `rows` that has run at all (however few times: the
   * warm-up's few batch runs count), scaled by rows from there. Where batching helps this is
   * below `quantile`'s linear scaling of the one-row figure, which would refuse bounds the
   * node can meet.
   */
  floorMs(stage: number, rows: number): number {
    let at = 0;
    let ms = Infinity;
    for (const r of [...this.stages[stage]!.keys()]) {
      const h = this.histogram(stage, r); // (forgets an expired row count, as planning does)
      if (h !== undefined && h.count > 0 && r <= rows && r > at) {
        at = r;
        ms = (h.quantile(0.5) / r) * rows;
      }
    }
    // Never above the planning estimate: a floor errs on the side of taking the request.
    return Math.min(ms, this.quantile(stage, rows, 0.5));
  }

  /** Per stage at one row: p50 / p99 / count, for /v2/models/{name} and logs. */
  summary(): Array<{ stage: number; p50Ms: number; p99Ms: number; count: number }> {
    return this.stages.map((m, i) => {
      const h = m.get(1);
      return { stage: i + 1, p50Ms: h?.quantile(0.5) ?? NaN, p99Ms: h?.quantile(0.99) ?? NaN, count: h?.count ?? 0 };
    });
  }
}

const MIN_SAMPLES = 20;
const REFRESH_EVERY = 16;

class WindowedHistogram {
  private current = new LatencyHistogram();
  private previous = new LatencyHistogram();
  private merged = new LatencyHistogram();
  private currentStart = -Infinity;
  /** When the last run was recorded. */
  lastAt = -Infinity;
  private sinceRefresh = Infinity;
  private readonly cache = new Map<number, number>();
  private readonly windowMs: number;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  get count(): number {
    return this.current.count + this.previous.count;
  }

  record(ms: number, atMs: number): void {
    if (atMs - this.currentStart >= this.windowMs) {
      if (this.current.count > 0) {
        const old = this.previous;
        old.reset();
        this.previous = this.current;
        this.current = old;
      }
      this.currentStart = atMs;
      this.sinceRefresh = Infinity;
    }
    this.current.record(ms);
    this.lastAt = Math.max(this.lastAt, atMs);
    this.sinceRefresh++;
  }

  quantile(q: number): number {
    if (this.sinceRefresh >= REFRESH_EVERY || this.merged.count === 0) {
      this.merged.reset();
      this.merged.merge(this.previous);
      this.merged.merge(this.current);
      this.cache.clear();
      this.sinceRefresh = 0;
    }
    let v = this.cache.get(q);
    if (v === undefined) this.cache.set(q, (v = this.merged.quantile(q)));
    return v;
  }
}
