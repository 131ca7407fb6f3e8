import type { ScalingPolicy } from '../../src/control/types.ts';
import type { ScalingContext } from './index.ts';
import { isActive, type Ms } from '../../src/core/types.ts';
import { affordable, boundMix, chooseType, demandSlots, noTypeDecision, numberOption, othersMinimumUsd, stringOption } from './capacity.ts';

/**
 * Baseline: Kubernetes-HPA-style target tracking on one type. desired = ceil(n · u / target)
 * with n the serving instances and u their busy fraction; no change while u/target is within
 * the tolerance; scale-down only to the highest recommendation of the stabilization window;
 * capped by what the budget affords. Options: `type` (default: the type with the most capacity
 * per dollar for the observed sizes), `targetUtilization` (0.6), `tolerance` (0.1),
 * `stabilizationWindow` (ms, 300000).
 *
 * It keeps its recent recommendations (by the given nowMs), as the HPA does.
 */
export function createTargetTracking(options: Readonly<Record<string, unknown>>, context: Pick<ScalingContext, 'poolTypes'> = {}): ScalingPolicy {
  const named = stringOption('target-tracking', options, 'type', context.poolTypes);
  const target = numberOption('target-tracking', options, 'targetUtilization', 0.6, 0.01, 1);
  const tolerance = numberOption('target-tracking', options, 'tolerance', 0.1, 0, 1);
  const windowMs = numberOption('target-tracking', options, 'stabilizationWindow', 300_000, 0, 86_400_000);
  const history: Array<{ atMs: Ms; desired: number }> = [];
  return {
    name: 'target-tracking',
    decide(state) {
      const c = chooseType(state, named, () => true);
      if (c === undefined) return noTypeDecision(state, named, '');
      const mine = state.fleet.filter((i) => i.type === c.type);
      const current = mine.filter(isActive).length;
      const serving = mine.filter((i) => i.state === 'running').length;
      const measured = state.utilization?.[c.type];
      let desired: number;
      let why: string;
      if (serving > 0 && measured !== undefined) {
        const ratio = measured / target;
        desired = Math.abs(ratio - 1) <= tolerance ? current : Math.ceil(serving * ratio);
        why = `utilization ${(measured * 100).toFixed(0)}% on ${serving} serving, target ${(target * 100).toFixed(0)}%`;
      } else {
        // Nothing serving yet: size from the observed load and the measured service times.
        const demand = demandSlots(c, state.classes, { load: state.observed });
        desired = Number.isNaN(demand) ? Math.max(current, 1) : Math.ceil(demand / (c.slots * target));
        why = Number.isNaN(demand) ? 'no load seen yet' : `load needs ${demand.toFixed(1)} busy slots`;
      }
      desired = Math.max(desired, c.minCount, 1);
      history.push({ atMs: state.nowMs, desired });
      while (history.length > 0 && history[0]!.atMs < state.nowMs - windowMs) history.shift();
      // Down-scale stabilization: never below the highest recent recommendation.
      if (desired < current) {
        const recent = Math.max(...history.map((h) => h.desired));
        desired = Math.min(current, recent);
      }
      // The other pools keep their minCount; this type gets what the budget has left.
      const cap = affordable(c, state.budgetUsdPerHour - othersMinimumUsd(state.candidates, c.type));
      const capped = desired > cap;
      const { mix } = boundMix({ [c.type]: Math.min(desired, cap) }, state);
      desired = mix[c.type] ?? 0;
      return { mix, reason: `${why} → ${desired}×${c.type}${capped ? ' (capped by budget)' : ''}` };
    },
  };
}
