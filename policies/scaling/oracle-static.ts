import { planMix } from '../../src/control/planner.ts';
import type { CandidateType, LoadObservation, ScalingPolicy } from '../../src/control/types.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { formatMix, type Mix, type RequestClass } from '../../src/core/types.ts';
import type { ScalingContext, ScalingPolicyOptions } from './index.ts';
import { createStaticMix } from './static-mix.ts';

/** What a hindsight run reports for one fixed mix. */
export interface StaticOutcome {
  readonly p99Ms: number;
  /** Fraction of requests within their SLO (drops count as misses). */
  readonly attainment: number;
}

/**
 * The pruned set of fixed mixes worth simulating in hindsight: the model's best maximal mixes
 * at the trace's peak load and at its mean load (runners-up included), plus the best all-fast
 * and all-frugal fleets, without duplicates.
 */
export function oracleCandidateMixes(
  candidates: readonly CandidateType[],
  classes: readonly RequestClass[],
  loads: readonly LoadObservation[],
  budgetUsdPerHour: number,
  perLoad = 6,
): Mix[] {
  const out = new Map<string, Mix>();
  const add = (m: Mix): void => {
    if (Object.keys(m).length > 0) out.set(formatMix(m), m);
  };
  for (const load of loads) {
    const p = planMix({ budgetUsdPerHour, classes, candidates, load, options: { runnersUp: perLoad - 1 } });
    add(p.mix);
    for (const r of p.runnersUp) add(r.mix);
  }
  for (const c of candidates) {
    const n = Math.min(c.maxCount, Math.floor(budgetUsdPerHour / c.usdPerHour + 1e-9));
    if (n > 0) add({ [c.type]: n });
  }
  return [...out.values()];
}

/**
 * The best fixed mix in hindsight: simulate each candidate on the whole trace and keep the one
 * with the lowest p99 among those meeting `targetAttainment`, or the highest attainment if none does.
 */
export async function findOracleStatic(mixes: readonly Mix[], simulate: (mix: Mix) => Promise<StaticOutcome>, targetAttainment: number): Promise<{ mix: Mix; outcome: StaticOutcome; tried: number }> {
  let best: { mix: Mix; outcome: StaticOutcome } | undefined;
  const better = (a: StaticOutcome, b: StaticOutcome): boolean => {
    const am = a.attainment >= targetAttainment;
    const bm = b.attainment >= targetAttainment;
    if (am !== bm) return am;
    return am ? a.p99Ms < b.p99Ms : a.attainment > b.attainment;
  };
  for (const mix of mixes) {
    const outcome = await simulate(mix);
    if (best === undefined || better(outcome, best.outcome)) best = { mix, outcome };
  }
  if (best === undefined) throw new ConfigError('oracle-static: no candidate mix to simulate');
  return { ...best, tried: mixes.length };
}

/**
 * For evaluation: the fixed mix found in hindsight by findOracleStatic (bench/oracle-static.ts
 * runs the search), given as `scaling.options.mix`. Held whatever the load, trimmed to the budget.
 */
export function createOracleStatic(options: ScalingPolicyOptions, context: Pick<ScalingContext, 'poolTypes'> = {}): ScalingPolicy {
  if (options['mix'] === undefined) {
    throw new ConfigError('scaling.options.mix: oracle-static needs the hindsight-best mix; find it with `npx tsx bench/oracle-static.ts --config FILE` and pass it as scaling.options.mix');
  }
  const inner = createStaticMix(options, context);
  return {
    name: 'oracle-static',
    decide: (state) => {
      const d = inner.decide(state);
      return { ...d, reason: `oracle-static: ${d.reason}` };
    },
  };
}
