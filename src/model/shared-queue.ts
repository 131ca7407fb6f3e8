import { mgcWait, waitTail } from './queueing.ts';
import type { PerformanceModel } from './predict.ts';

/**
 * A second opinion for mixes the per-pool model says miss their SLO: each class's share of
 * requests within its SLO when the router binds late (the default), so every slot of the mix
 * drains one queue at the router instead of each pool its own.
 *
 * Three parts, each a standard approximation:
 * 1. one M/G/c over all slots, with the traffic split so that every pool is equally busy (a
 *    free slot takes the next request, so no pool idles while another has a backlog); requests
 *    only some pools can serve in time (large ones, to fast pools) load those pools first;
 * 2. least slack first: a request that needs s ms waits behind those with less slack, so it
 *    finishes at max(s, s̄ + W) and makes its SLO when W ≤ SLO − s̄ (and s ≤ SLO somewhere);
 * 3. requests that can no longer make it yield to those that can (M/M/c+D with a deterministic
 *    patience): the late share is (1 − ρ)·P(W > t) / (1 − ρ·P(W > t)).
 *
 * It is close to the simulator near saturation, where the per-pool model's separate queues
 * explode (bench/README.md, kairos-capacity: 3×g4dn + 6×r5n at 100 rps, 98.9% against the
 * simulator's 98.7% and the per-pool model's 52%). It is optimistic about the few requests only
 * one small fast pool can serve, and a planner that trusted it everywhere rode lean fleets into
 * surges (same section), so the planner uses it only to rank mixes the per-pool model rejects.
 *
 * Returns each class's attainment, or null when some pool is overloaded even with the best split.
 */
export function sharedQueueAttainment(model: PerformanceModel, counts: ArrayLike<number>): number[] | null {
  const types = model.types;
  const classes = model.classes;
  const { active, eligible } = model.routable(counts);
  const A = active.length;
  if (A === 0) return null;
  const servers = active.map((p) => (counts[p] ?? 0) * types[p]!.slots);
  // Every (class, bin) with traffic: the pools it may go to (as the router and the per-pool model route it).
  const bins: Array<{ rate: number; pools: number[]; m1: number[]; m2: number[] }> = [];
  // Per class and bin: the fastest eligible service time, or NaN when no pool serves the bin.
  const fastest: Float64Array[] = [];
  classes.forEach((c, k) => {
    const n = c.sizes.sizes.length;
    const best = new Float64Array(n).fill(NaN);
    for (let j = 0; j < n; j++) {
      const mask = eligible[k]![j]!;
      if (mask === 0) continue;
      const pools: number[] = [];
      for (let a = 0; a < A; a++) if (mask & (1 << a)) pools.push(a);
      const m1 = pools.map((a) => types[active[a]!]!.columns[k]!.meanMs[j]!);
      best[j] = Math.min(...m1);
      const rate = (c.sizes.weights[j]! * c.rps) / 1000;
      if (rate > 0) bins.push({ rate, pools, m1, m2: pools.map((a) => types[active[a]!]!.columns[k]!.secondMs2[j]!) });
    }
    fastest.push(best);
  });

  // Balance utilization: each bin's requests go to its pools in proportion to weight / service
  // time (equal work per unit of weight), and weights move toward the less busy pools.
  const weight = servers.map((s) => s);
  const work = new Float64Array(A);
  const rate = new Float64Array(A);
  const second = new Float64Array(A);
  const load = (): void => {
    work.fill(0);
    rate.fill(0);
    second.fill(0);
    for (const b of bins) {
      let norm = 0;
      for (let i = 0; i < b.pools.length; i++) norm += weight[b.pools[i]!]! / b.m1[i]!;
      for (let i = 0; i < b.pools.length; i++) {
        const a = b.pools[i]!;
        const r = (b.rate * weight[a]!) / b.m1[i]! / norm;
        rate[a]! += r;
        work[a]! += r * b.m1[i]!;
        second[a]! += r * b.m2[i]!;
      }
    }
  };
  load();
  for (let it = 0; it < 20; it++) {
    let total = 0;
    let slots = 0;
    for (let a = 0; a < A; a++) {
      total += work[a]!;
      slots += servers[a]!;
    }
    const mean = total / slots;
    if (!(mean > 0)) break;
    let worst = 0;
    for (let a = 0; a < A; a++) {
      const rho = work[a]! / servers[a]!;
      worst = Math.max(worst, Math.abs(rho - mean) / mean);
      weight[a]! *= Math.sqrt(mean / Math.max(rho, 1e-9 * mean));
    }
    if (worst < 0.005) break;
    load();
  }
  let lam = 0;
  let busy = 0;
  let s2 = 0;
  let c = 0;
  for (let a = 0; a < A; a++) {
    if (work[a]! / servers[a]! >= 1) return null;
    lam += rate[a]!;
    busy += work[a]!;
    s2 += second[a]!;
    c += servers[a]!;
  }
  if (!(lam > 0)) return classes.map(() => 1);
  const meanS = busy / lam;
  const law = mgcWait(c, lam, meanS, Math.max(0, s2 / lam / (meanS * meanS) - 1));
  return classes.map((cl, k) => {
    const p = waitTail(law, cl.sloMs - meanS);
    const late = p >= 1 ? 1 : ((1 - law.rho) * p) / (1 - law.rho * p);
    let within = 0;
    const best = fastest[k]!;
    for (let j = 0; j < best.length; j++) if (best[j]! <= cl.sloMs) within += cl.sizes.weights[j]!;
    return within * (1 - late);
  });
}
