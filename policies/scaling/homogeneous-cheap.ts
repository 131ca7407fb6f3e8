import type { ScalingPolicy } from '../../src/control/types.ts';
import type { ScalingContext } from './index.ts';
import { chooseType, noTypeDecision, stringOption, wholeBudgetOn } from './capacity.ts';

/**
 * Baseline: the whole budget on one frugal (not accelerated) type, whatever the load. Option
 * `type` names it; by default the frugal type with the most serving capacity per dollar for
 * the observed sizes (the cheapest when sizes are unknown).
 */
export function createHomogeneousCheap(options: Readonly<Record<string, unknown>>, context: Pick<ScalingContext, 'poolTypes'> = {}): ScalingPolicy {
  const named = stringOption('homogeneous-cheap', options, 'type', context.poolTypes);
  return {
    name: 'homogeneous-cheap',
    decide(state) {
      const c = chooseType(state, named, (x) => !x.fast);
      if (c === undefined) return noTypeDecision(state, named, 'frugal ');
      // The other pools keep their minCount; the rest of the budget goes to this type.
      return wholeBudgetOn(c, state);
    },
  };
}
