import type { LoadObservation } from './types.ts';
import { planMix, type PlanInput, type PlanResult } from './planner.ts';

/** Scales every class's rate by `factor`. */
export function scaleLoad(load: LoadObservation, factor: number): LoadObservation {
  return { ...load, classes: load.classes.map((c) => ({ ...c, rps: c.rps * factor })) };
}

/** Below this (requests per second) not even a trickle is served within SLO: the answer is 0. */
const TRICKLE_RPS = 2 ** -10;

/**
 * The highest total load (same class shares and sizes as `input.load`) at which the best mix
 * within the budget is predicted to meet every SLO (by the per-pool model or, when the planner
 * asks it, the shared queue's second opinion), found by bisection to ~1%. 0 when not even a
 * trickle can be served within SLO. Ignores the current fleet: this is what the budget can hold.
 * The bracket is two powers of two (doubling up, or halving down, from near the load given), so
 * the answer does not depend on how far the load given is from it.
 */
export function maxRpsWithinSlo(input: PlanInput, relTolerance = 0.01): { rps: number; plan: PlanResult | null } {
  const base = input.load.classes.reduce((a, c) => a + c.rps, 0);
  const shape = base > 0 ? input.load : { ...input.load, classes: input.load.classes.map((c) => ({ ...c, rps: 1 })) };
  const total = base > 0 ? base : input.load.classes.length;
  // What the budget holds is a property of the best mix at each load, not of the roomier one tailSlack would run.
  const at = (rps: number): PlanResult => planMix({ ...input, fleet: [], load: scaleLoad(shape, rps / total), options: { ...input.options, tailSlack: 0 } });
  let lo = 0;
  let loPlan: PlanResult | null = null;
  let hi = 2 ** Math.ceil(Math.log2(Math.max(1, base)));
  const first = at(hi);
  if (first.meetsSlo) {
    // Grow until the SLO breaks.
    lo = hi;
    loPlan = first;
    for (let i = 0; i < 30; i++) {
      hi *= 2;
      const p = at(hi);
      if (!p.meetsSlo) break;
      lo = hi;
      loPlan = p;
    }
  } else {
    // Shrink until it holds: however far above what the budget holds the load given is.
    while (loPlan === null) {
      const x = hi / 2;
      if (x < TRICKLE_RPS) return { rps: 0, plan: null };
      const p = at(x);
      if (p.meetsSlo) {
        lo = x;
        loPlan = p;
      } else hi = x;
    }
  }
  while (hi - lo > relTolerance * lo) {
    const mid = (lo + hi) / 2;
    const p = at(mid);
    if (p.meetsSlo) {
      lo = mid;
      loPlan = p;
    } else hi = mid;
  }
  return { rps: lo, plan: loPlan };
}
