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
 */
export class ResponseTail {
  private readonly pools: Array<{ law: WaitLaw; svc: Float64Array; prob: Float64Array; massAbove: Float64Array; s: Float64Array }> = [];
  private readonly unserved: number;

  constructor(unserved: number) {
    this.unserved = unserved;
  }

  /** Adds one pool's points (service ms and probability), in any order. */
  addPool(law: WaitLaw, svc: readonly number[], prob: readonly number[]): void {
    const order = svc.map((_, i) => i).sort((a, b) => svc[a]! - svc[b]!);
    const n = order.length;
    const s = new Float64Array(n);
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = svc[order[i]!]!;
      p[i] = prob[order[i]!]!;
    }
    // massAbove[k] = Σ_{i > k} p_i; S[k] as in the class comment.
    const massAbove = new Float64Array(n);
    let acc = 0;
    for (let i = n - 1; i >= 0; i--) {
      massAbove[i] = acc;
      acc += p[i]!;
    }
    const S = new Float64Array(n);
    const theta = law.thetaMs;
    for (let i = 0; i < n; i++) {
      const decay = i === 0 || !(theta > 0) || !Number.isFinite(theta) ? 1 : Math.exp(-(s[i]! - s[i - 1]!) / theta);
      S[i] = (i === 0 ? 0 : S[i - 1]! * decay) + p[i]!;
    }
    this.pools.push({ law, svc: s, prob: p, massAbove, s: S });
  }

  tail(x: number): number {
    let t = this.unserved;
    for (const pool of this.pools) {
      const svc = pool.svc;
      const n = svc.length;
      if (n === 0) continue;
      // k: last index with svc[k] ≤ x.
      let lo = -1;
      let hi = n;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (svc[mid]! <= x) lo = mid;
        else hi = mid;
      }
      const k = lo;
      if (k < 0) {
        t += pool.massAbove[0]! + pool.prob[0]!;
        continue;
      }
      t += pool.massAbove[k]!;
      const w = pool.law;
      if (w.pWait === 0) continue;
      if (!Number.isFinite(w.thetaMs)) {
        t += pool.s[k]!;
        continue;
      }
      t += w.pWait * pool.s[k]! * Math.exp(-(x - svc[k]!) / w.thetaMs);
    }
    return t;
  }
}
