import type { WaitLaw } from './queueing.ts';

/**
 * P(T > x) for a response time T = W + s, mixed over pools (each with its wait law W) and the
 * size bins routed there (service time s, nearly deterministic per size, with probability p).
 *
 * Per pool, with points sorted by s and x in [s_k, s_k+1): the points above x contribute their
 * mass, the ones at or below contribute pWait · Σ p_i exp(−(x − s_i)/θ) = pWait · S_k ·
 * exp(−(x − s_k)/θ), where S_k = S_k−1 · exp(−(s_k − s_k−1)/θ) + p_k is precomputed. One
 * evaluation is then a binary search and one exp per pool instead of one exp per point: the
 * quantile search calls it dozens of times per class for every mix the planner tries.
 *
 * Reusable: the model keeps one, sized for its pools and size bins, and `reset`s it per class,
 * so the planner's search allocates nothing here.
 */
export class ResponseTail {
  private readonly maxPoints: number;
  private readonly laws: WaitLaw[] = [];
  private readonly counts: Int32Array;
  private readonly svc: Float64Array;
  private readonly prob: Float64Array;
  private readonly massAbove: Float64Array;
  private readonly s: Float64Array;
  private readonly order: number[] = [];
  private pools = 0;
  private unserved = 0;

  constructor(maxPools: number, maxPoints: number) {
    this.maxPoints = maxPoints;
    this.counts = new Int32Array(maxPools);
    this.svc = new Float64Array(maxPools * maxPoints);
    this.prob = new Float64Array(maxPools * maxPoints);
    this.massAbove = new Float64Array(maxPools * maxPoints);
    this.s = new Float64Array(maxPools * maxPoints);
  }

  /** Starts a new mixture with this much probability that is never served (counts as late). */
  reset(unserved: number): this {
    this.pools = 0;
    this.unserved = unserved;
    return this;
  }

  /** Adds one pool's first `n` points (service ms and probability), in any order. */
  addPool(law: WaitLaw, svc: ArrayLike<number>, prob: ArrayLike<number>, n: number): void {
    const base = this.pools * this.maxPoints;
    this.laws[this.pools] = law;
    this.counts[this.pools] = n;
    this.pools++;
    const s = this.svc;
    const p = this.prob;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) if (svc[i]! < svc[i - 1]!) sorted = false;
    if (sorted) {
      // The usual case: size bins come in ascending order, and service time grows with size.
      for (let i = 0; i < n; i++) {
        s[base + i] = svc[i]!;
        p[base + i] = prob[i]!;
      }
    } else {
      const order = this.order;
      order.length = n;
      for (let i = 0; i < n; i++) order[i] = i;
      order.sort((a, b) => svc[a]! - svc[b]!);
      for (let i = 0; i < n; i++) {
        s[base + i] = svc[order[i]!]!;
        p[base + i] = prob[order[i]!]!;
      }
    }
    // massAbove[k] = Σ_{i > k} p_i; S[k] as in the class comment.
    let acc = 0;
    for (let i = n - 1; i >= 0; i--) {
      this.massAbove[base + i] = acc;
      acc += p[base + i]!;
    }
    const theta = law.thetaMs;
    const decays = theta > 0 && Number.isFinite(theta);
    let S = 0;
    for (let i = 0; i < n; i++) {
      S = (i === 0 || !decays ? S : S * Math.exp(-(s[base + i]! - s[base + i - 1]!) / theta)) + p[base + i]!;
      this.s[base + i] = S;
    }
  }

  tail(x: number): number {
    let t = this.unserved;
    const svc = this.svc;
    for (let q = 0; q < this.pools; q++) {
      const n = this.counts[q]!;
      if (n === 0) continue;
      const base = q * this.maxPoints;
      // k: last index with svc[k] ≤ x.
      let lo = -1;
      let hi = n;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (svc[base + mid]! <= x) lo = mid;
        else hi = mid;
      }
      const k = lo;
      if (k < 0) {
        t += this.massAbove[base]! + this.prob[base]!;
        continue;
      }
      t += this.massAbove[base + k]!;
      const w = this.laws[q]!;
      if (w.pWait === 0) continue;
      if (!Number.isFinite(w.thetaMs)) {
        t += this.s[base + k]!;
        continue;
      }
      t += w.pWait * this.s[base + k]! * Math.exp(-(x - svc[base + k]!) / w.thetaMs);
    }
    return t;
  }
}
