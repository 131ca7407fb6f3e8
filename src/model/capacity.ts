import type { PerformanceModel } from './predict.ts';

/**
 * Kairos' upper bound on a mix's throughput (Li et al., HPDC'23): the largest arrival rate λ,
 * with the model's class shares and size mixture, for which the work of every size bin can be
 * placed on types whose service time for that size meets the QoS without any instance exceeding
 * 100% busy, filling largest sizes first onto the fastest feasible type (a fluid relaxation:
 * queueing delay is ignored, as in Kairos). As in Kairos, 0 when some size has no type in the
 * mix that meets its QoS. With `withinSlo`, each class may leave up to the share of requests its
 * SLO quantile allows outside it unplaced (1% at p99): the planner's tailSlack measures spare
 * capacity with this, so one rare size no type serves in time does not make every mix 0. Also
 * 0 when the model has no sizes at all (no traffic seen).
 */
export function upperBoundRps(model: PerformanceModel, counts: readonly number[], opts: { withinSlo?: boolean } = {}): number {
  const { bins, minSvc } = binsOf(model);
  // No size seen yet (no traffic): nothing to measure a mix's capacity by.
  if (bins.length === 0) return 0;
  const K = model.classes.length;
  // Demand (as a share of the total rate) each class may leave unplaced.
  const slack = model.classes.map((c, k) => (opts.withinSlo === true ? (1 - c.sloQuantile) * classShare(model, k) : 0));
  const capacity = model.types.map((t, i) => (counts[i] ?? 0) * t.slots * 1000);
  const left = new Float64Array(capacity.length);
  const unplaced = new Float64Array(K);
  const feasible = (rps: number): boolean => {
    left.set(capacity);
    unplaced.fill(0);
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
      if (demand > 1e-9) {
        unplaced[b.cls]! += demand;
        if (unplaced[b.cls]! > rps * slack[b.cls]! + 1e-9) return false;
      }
    }
    return true;
  };
  // Every slot busy with the quickest request there is, and the demand a class may leave out on
  // top: no mix serves more.
  const allowed = slack.reduce((a, b) => a + b, 0);
  let hi = capacity.reduce((a, b) => a + b, 0) / minSvc / Math.max(1e-3, 1 - allowed);
  if (!(hi > 0) || !feasible(1e-6 * hi)) return 0;
  let lo = 0;
  for (let it = 0; it < 60 && hi - lo > 1e-4 * hi; it++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

function classShare(model: PerformanceModel, k: number): number {
  const total = model.classes.reduce((a, c) => a + c.rps, 0);
  return total > 0 ? model.classes[k]!.rps / total : 1 / model.classes.length;
}

interface Bin {
  readonly cls: number;
  /** Share of the total rate. */
  readonly share: number;
  /** Service time per type (Infinity where over the class's QoS or not served). */
  readonly svc: readonly number[];
  /** Types that meet the QoS for this size, fastest first. */
  readonly order: readonly number[];
}

/** Size bins of every class, largest service time first; the same for every mix of one model. */
const BINS = new WeakMap<PerformanceModel, { bins: readonly Bin[]; minSvc: number }>();

function binsOf(model: PerformanceModel): { bins: readonly Bin[]; minSvc: number } {
  const cached = BINS.get(model);
  if (cached !== undefined) return cached;
  const bins: Bin[] = [];
  let minSvc = Infinity;
  model.classes.forEach((c, k) => {
    const share = classShare(model, k);
    for (let j = 0; j < c.sizes.sizes.length; j++) {
      const svc = model.types.map((t) => {
        const m = t.columns[k]!.meanMs[j]!;
        return Number.isFinite(m) && m <= c.sloMs ? m : Infinity;
      });
      for (const m of svc) if (m > 0) minSvc = Math.min(minSvc, m);
      const order = svc.map((_, i) => i).filter((i) => Number.isFinite(svc[i]!)).sort((a, b) => svc[a]! - svc[b]!);
      bins.push({ cls: k, share: share * c.sizes.weights[j]!, svc, order });
    }
  });
  bins.sort((a, b) => Math.min(...b.svc) - Math.min(...a.svc));
  const out = { bins, minSvc: Number.isFinite(minSvc) ? minSvc : 1 };
  BINS.set(model, out);
  return out;
}
