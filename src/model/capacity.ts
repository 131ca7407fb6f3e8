import type { PerformanceModel } from './predict.ts';

/**
 * Kairos' upper bound on a mix's throughput (Li et al., HPDC'23): the largest arrival rate λ,
 * with the model's class shares and size mixture, for which the work of every size bin can be
 * placed on types whose service time for that size meets the QoS without any instance exceeding
 * 100% busy, filling largest sizes first onto the fastest feasible type (a fluid relaxation:
 * queueing delay is ignored, as in Kairos). 0 when some size has no type in the mix that meets
 * its QoS. The kairos policy ranks mixes by it; the planner's tailSlack uses it as spare capacity.
 */
export function upperBoundRps(model: PerformanceModel, counts: readonly number[]): number {
  const bins = binsOf(model);
  const capacity = model.types.map((t, i) => (counts[i] ?? 0) * t.slots * 1000);
  // A size with demand that no type of this mix serves within its QoS: nothing can be placed.
  if (bins.some((b) => b.share > 0 && !b.order.some((i) => capacity[i]! > 0))) return 0;
  const left = new Float64Array(capacity.length);
  const feasible = (rps: number): boolean => {
    left.set(capacity);
    for (const b of bins) {
      let demand = rps * b.share;
      for (const i of b.order) {
        if (demand <= 0) break;
        if (left[i]! <= 0) continue;
        const can = left[i]! / b.svc[i]!;
        const take = Math.min(can, demand);
        left[i]! -= take * b.svc[i]!;
        demand -= take;
      }
      if (demand > 1e-9) return false;
    }
    return true;
  };
  let lo = 0;
  let hi = capacity.reduce((a, b) => a + b, 0);
  if (hi === 0) return 0;
  for (let it = 0; it < 50 && hi - lo > 1e-4 * hi; it++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

interface Bin {
  /** Share of the total rate. */
  readonly share: number;
  /** Service time per type (Infinity where over the class's QoS or not served). */
  readonly svc: readonly number[];
  /** Types that meet the QoS for this size, fastest first. */
  readonly order: readonly number[];
}

/** Size bins of every class, largest service time first; the same for every mix of one model. */
const BINS = new WeakMap<PerformanceModel, readonly Bin[]>();

function binsOf(model: PerformanceModel): readonly Bin[] {
  const cached = BINS.get(model);
  if (cached !== undefined) return cached;
  const K = model.classes.length;
  const totalRps = model.classes.reduce((a, c) => a + c.rps, 0);
  const bins: Bin[] = [];
  for (let k = 0; k < K; k++) {
    const c = model.classes[k]!;
    const classShare = totalRps > 0 ? c.rps / totalRps : 1 / K;
    for (let j = 0; j < c.sizes.sizes.length; j++) {
      const svc = model.types.map((t) => {
        const m = t.columns[k]!.meanMs[j]!;
        return Number.isFinite(m) && m <= c.sloMs ? m : Infinity;
      });
      const order = svc.map((_, i) => i).filter((i) => Number.isFinite(svc[i]!)).sort((a, b) => svc[a]! - svc[b]!);
      bins.push({ share: classShare * c.sizes.weights[j]!, svc, order });
    }
  }
  bins.sort((a, b) => Math.min(...b.svc) - Math.min(...a.svc));
  BINS.set(model, bins);
  return bins;
}
