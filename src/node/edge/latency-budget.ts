/**
 * An error budget for the latency bound. The predictive exit policy plans with a percentile of
 * each stage's measured time; planning every decision at p99 is stricter than "99% of answers
 * within their bound" asks, because most requests never face a close call. Given the share of
 * answers that must be within their bound, the budget moves that percentile by what the node
 * achieves over its last `window` bounded answers: lower (run more stages, answer more
 * accurately) while lateness stays under half of what the target allows, higher as soon as it
 * passes 80% of it. It tightens faster than it loosens, so one stall costs little.
 */
export interface LatencyBudgetOptions {
  /** Share of bounded answers that must be within their bound, e.g. 0.99. */
  readonly within: number;
  /** The percentile to start from (the node's configured one). */
  readonly start: number;
  /** Answers remembered (default 500). */
  readonly window?: number;
  /** Answers needed before the percentile moves (default 100). */
  readonly minSamples?: number;
  /** Lowest percentile it plans with (default 0.5: the median). */
  readonly min?: number;
  /** Highest percentile it plans with (default 0.999). */
  readonly max?: number;
}

export class LatencyBudget {
  readonly within: number;
  private readonly ring: Uint8Array;
  private next = 0;
  private count = 0;
  private late = 0;
  private tail: number;
  private readonly minTail: number;
  private readonly maxTail: number;
  private readonly minSamples: number;

  constructor(opts: LatencyBudgetOptions) {
    if (!(opts.within > 0 && opts.within < 1)) throw new RangeError(`within must be in (0, 1), got ${opts.within}`);
    this.within = opts.within;
    this.ring = new Uint8Array(opts.window ?? 500);
    this.minSamples = Math.min(this.ring.length, opts.minSamples ?? 100);
    this.minTail = 1 - (opts.max ?? 0.999);
    this.maxTail = 1 - (opts.min ?? 0.5);
    this.tail = Math.min(this.maxTail, Math.max(this.minTail, 1 - opts.start));
  }

  /** The percentile to plan with now, rounded to 0.001 (the stage histograms cache per percentile). */
  percentile(): number {
    return Math.round((1 - this.tail) * 1000) / 1000;
  }

  /** Share of the remembered answers that were late. */
  lateShare(): number {
    return this.count === 0 ? 0 : this.late / this.count;
  }

  /** One bounded answer: late or not. */
  record(late: boolean): void {
    const v = late ? 1 : 0;
    if (this.count === this.ring.length) this.late -= this.ring[this.next]!;
    else this.count++;
    this.ring[this.next] = v;
    this.late += v;
    this.next = (this.next + 1) % this.ring.length;
    if (this.count < this.minSamples) return;
    const allowed = 1 - this.within;
    const share = this.late / this.count;
    if (share > 0.8 * allowed) this.tail = Math.max(this.minTail, this.tail * 0.9);
    else if (share < 0.5 * allowed) this.tail = Math.min(this.maxTail, this.tail * 1.02);
  }
}
