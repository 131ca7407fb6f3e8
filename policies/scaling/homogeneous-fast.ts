import type { ScalingPolicy } from '../../src/control/types.ts';
import type { ScalingContext } from './index.ts';
import { chooseType, noTypeDecision, stringOption, wholeBudgetOn } from './capacity.ts';

/**
 * Baseline: the whole budget on one fast (accelerated) type, whatever the load — the
 * "all GPU" fleet. Option `type` names it; by default the fast type with the most serving
 * capacity per dollar for the observed sizes (the cheapest when sizes are unknown).
 */
export function createHomogeneousFast(options: Readonly<Record<string, unknown>>, context: Pick<ScalingContext, 'poolTypes'> = {}): ScalingPolicy {
  const named = stringOption('homogeneous-fast', options, 'type', context.poolTypes);
  return {
    name: 'homogeneous-fast',
    decide(state) {
      const c = chooseType(state, named, (x) => x.fast);
      if (c === undefined) return noTypeDecision(state, named, 'fast ');
      // The other pools keep their minCount; the rest of the budget goes to this type.
      return wholeBudgetOn(c, state);
    },
  };
}
