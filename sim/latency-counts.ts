import { LatencyHistogram } from '../src/core/histogram.ts';

const SUB_BUCKET_BITS = 10;
/** Latencies at or above this (µs, about 35 minutes) take the slow path. */
const FAST_LIMIT = 0x7fffffff;

/**
 * The hot-path front of a LatencyHistogram: counts per HDR bucket (the same buckets as
 * LatencyHistogram: microseconds, 3 significant digits), indexed with integer ops instead of
 * the library's log2/pow. Each finished request is counted into several of these; they are
 * drained into real HDR histograms at window boundaries, so percentiles, encoding and merging
 * stay HdrHistogram's own.
 */
export class LatencyCounts {
  private counts = new Float64Array(4096);
  private highest = -1;
  private lowest = Infinity;
  private overflow: number[] = [];
  /** The largest value counted (µs), exact: the buckets keep only a value's bucket. */
  private maxUs = 0;
  count = 0;

  record(ms: number): void {
    const v = ms > 0 ? Math.round(ms * 1000) : 0;
    this.count++;
    if (v > this.maxUs) this.maxUs = v;
    if (v > FAST_LIMIT) {
      this.overflow.push(ms);
      return;
    }
    // HDR's bucket: floor(log2 v) - 10 (0 below 2048), and the sub-bucket v >> bucket.
    const b = v < 2048 ? 0 : 21 - Math.clz32(v);
    const i = (b << SUB_BUCKET_BITS) + (v >>> b);
    if (i >= this.counts.length) {
      const grown = new Float64Array(Math.max(i + 1, this.counts.length * 2));
      grown.set(this.counts);
      this.counts = grown;
    }
    this.counts[i]!++;
    if (i > this.highest) this.highest = i;
    if (i < this.lowest) this.lowest = i;
  }

  /** Adds everything counted into `h` and starts over. */
  drainInto(h: LatencyHistogram): void {
    const c = this.counts;
    for (let i = this.lowest; i <= this.highest; i++) {
      const n = c[i]!;
      if (n === 0) continue;
      const b = i < 2048 ? 0 : (i >> SUB_BUCKET_BITS) - 1;
      const sub = i - (b << SUB_BUCKET_BITS);
      if (i === this.highest && this.overflow.length === 0) {
        // The largest value itself, so the histogram's max is exact (same bucket, same percentiles).
        if (n > 1) h.recordMany((sub * 2 ** b) / 1000, n - 1);
        h.record(this.maxUs / 1000);
      } else h.recordMany((sub * 2 ** b) / 1000, n);
      c[i] = 0;
    }
    for (const ms of this.overflow) h.record(ms);
    this.clear();
  }

  /**
   * The q-quantile in ms with HdrHistogram's semantics (the highest value equivalent to the
   * bucket where the cumulative count first reaches round(q × count)), without building one.
   */
  quantileMs(q: number): number {
    if (this.count === 0) return 0;
    if (this.overflow.length > 0) {
      const h = new LatencyHistogram();
      const copy = new LatencyCounts();
      copy.counts = this.counts.slice();
      copy.highest = this.highest;
      copy.lowest = this.lowest;
      copy.overflow = [...this.overflow];
      copy.maxUs = this.maxUs;
      copy.count = this.count;
      copy.drainInto(h);
      return h.quantile(q);
    }
    const p = Math.min(Math.max(q, 0), 1);
    const target = Math.max(1, Math.floor(p * this.count + 0.5));
    let seen = 0;
    const c = this.counts;
    for (let i = this.lowest; i <= this.highest; i++) {
      seen += c[i]!;
      if (seen >= target) {
        const b = i < 2048 ? 0 : (i >> SUB_BUCKET_BITS) - 1;
        const lowest = (i - (b << SUB_BUCKET_BITS)) * 2 ** b;
        // Never above the largest value (as LatencyHistogram.quantile).
        return (p === 0 ? lowest : Math.min(lowest + 2 ** b - 1, this.maxUs)) / 1000;
      }
    }
    return 0;
  }

  /** Adds what `other` counted (which keeps it). */
  addFrom(other: LatencyCounts): void {
    if (other.count === 0) return;
    if (other.highest >= this.counts.length) {
      const grown = new Float64Array(Math.max(other.highest + 1, this.counts.length * 2));
      grown.set(this.counts);
      this.counts = grown;
    }
    for (let i = other.lowest; i <= other.highest; i++) this.counts[i]! += other.counts[i]!;
    if (other.highest > this.highest) this.highest = other.highest;
    if (other.lowest < this.lowest) this.lowest = other.lowest;
    for (const ms of other.overflow) this.overflow.push(ms);
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
    this.count += other.count;
  }

  /** Forgets what was counted. */
  clear(): void {
    if (this.highest >= 0) this.counts.fill(0, this.lowest, this.highest + 1);
    this.overflow = [];
    this.maxUs = 0;
    this.highest = -1;
    this.lowest = Infinity;
    this.count = 0;
  }

  /** A new histogram holding what was counted (and this starts over). */
  take(): LatencyHistogram {
    const h = new LatencyHistogram();
    this.drainInto(h);
    return h;
  }
}
