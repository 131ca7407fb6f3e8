import * as hdr from 'hdr-histogram-js';

/**
 * Latency histogram over hdr-histogram-js. Values are recorded in microseconds as integers
 * (3 significant digits: ±0.1% relative error) and read back in milliseconds. The wire form
 * is HdrHistogram's compressed base64, so other HDR implementations can read our snapshots.
 */
export class LatencyHistogram {
  private readonly h: hdr.Histogram;

  constructor(h?: hdr.Histogram) {
    this.h =
      h ??
      hdr.build({
        bitBucketSize: 32,
        autoResize: true,
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600_000_000,
        numberOfSignificantValueDigits: 3,
        useWebAssembly: false,
      });
  }

  /** Records one latency in ms (negative values are clamped to 0). */
  record(ms: number): void {
    this.h.recordValue(ms > 0 ? Math.round(ms * 1000) : 0);
  }

  /** Records `count` occurrences of the same latency. */
  recordMany(ms: number, count: number): void {
    this.h.recordValueWithCount(ms > 0 ? Math.round(ms * 1000) : 0, count);
  }

  get count(): number {
    return this.h.totalCount;
  }

  /**
   * Value at the given quantile (0..1), in ms; 0 when empty. HDR answers with the highest value
   * of the quantile's bucket; it is capped at the largest value recorded, so no percentile
   * exceeds the max.
   */
  quantile(q: number): number {
    if (this.h.totalCount === 0) return 0;
    return Math.min(this.h.getValueAtPercentile(q * 100), this.h.maxValue) / 1000;
  }

  get meanMs(): number {
    return this.h.totalCount === 0 ? 0 : this.h.mean / 1000;
  }

  get maxMs(): number {
    return this.h.totalCount === 0 ? 0 : this.h.maxValue / 1000;
  }

  get minMs(): number {
    return this.h.totalCount === 0 ? 0 : this.h.minNonZeroValue / 1000;
  }

  /** Adds every value of `other` into this one. */
  merge(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  reset(): void {
    this.h.reset();
  }

  /** Compressed base64 (HdrHistogram V2 encoding) for snapshots and transport. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.h);
  }

  static decode(base64: string): LatencyHistogram {
    return new LatencyHistogram(hdr.decodeFromCompressedBase64(base64, 32, false));
  }

  summary(): { count: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number } {
    return {
      count: this.count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.maxMs,
      mean: this.meanMs,
    };
  }

  /** Cumulative distribution points (ms, fraction ≤ ms) for plotting, about `points` of them. */
  cdf(points = 100): Array<{ ms: number; fraction: number }> {
    const out: Array<{ ms: number; fraction: number }> = [];
    if (this.count === 0) return out;
    for (let i = 1; i <= points; i++) {
      // Denser near the tail: quantiles 1 - 10^(-3i/points) mixed with a linear sweep.
      const q = i <= points / 2 ? (2 * i) / points * 0.9 : 1 - 0.1 * Math.pow(10, (-3 * (i - points / 2)) / (points / 2));
      out.push({ ms: this.quantile(Math.min(q, 1)), fraction: Math.min(q, 1) });
    }
    return out;
  }
}
