import type { LoadObservation } from './types.ts';
import { planMix, type PlanInput, type PlanResult } from './planner.ts';

/** Scales every class's rate by `factor`. */
export function scaleLoad(load: LoadObservation, factor: number): LoadObservation {
  return { ...load, classes: load.classes.map((c) => ({ ...c, rps: c.rps * factor })) };
}

/**
 * The highest total load (same class shares and sizes as `input.load`) at which the best mix
 * within the budget is predicted to meet every SLO (by the per-pool model or, when the planner
 * asks it, the shared queue's second opinion), found by bisection to ~1%. 0 when not even a
 * trickle can be served within SLO. Ignores the current fleet: this is what the budget can hold.
 */
export function maxRpsWithinSlo(input: PlanInput, relTolerance = 0.01): { rps: number; plan: PlanResult | null } {
  const base = input.load.classes.reduce((a, c) => a + c.rps, 0);
  const shape = base > 0 ? input.load : { ...input.load, classes: input.load.classes.map((c) => ({ ...c, rps: 1 })) };
  const total = base > 0 ? base : input.load.classes.length;
  // What the budget holds is a property of the best mix at each load, not of the roomier one tailSlack would run.
  const at = (rps: number): PlanResult => planMix({ ...input, fleet: [], load: scaleLoad(shape, rps / total), options: { ...input.options, tailSlack: 0 } });
  const meets = (p: PlanResult): boolean => p.meetsSlo;
  let lo = 0;
  let loPlan: PlanResult | null = null;
  let hi = Math.max(1, base);
  // Grow until the SLO breaks, then bisect.
  for (let i = 0; i < 30; i++) {
    const p = at(hi);
    if (!meets(p)) break;
    lo = hi;
    loPlan = p;
    hi *= 2;
  }
  if (loPlan === null) {
    const tiny = at(hi / 1000);
    if (!meets(tiny)) return { rps: 0, plan: null };
    lo = hi / 1000;
    loPlan = tiny;
  }
  while (hi - lo > relTolerance * lo) {
    const mid = (lo + hi) / 2;
    const p = at(mid);
    if (meets(p)) {
      lo = mid;
      loPlan = p;
    } else hi = mid;
  }
  return { rps: lo, plan: loPlan };
}
