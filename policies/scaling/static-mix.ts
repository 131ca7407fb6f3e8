import type { ScalingPolicy } from '../../src/control/types.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { formatMix } from '../../src/core/types.ts';
import { formatUsd } from '../../src/core/units.ts';
import { boundMix, checkPoolType } from './capacity.ts';
import type { ScalingContext } from './index.ts';

/**
 * Baseline: a fixed mix from `scaling.options.mix` (`{ type: count }`), whatever the load.
 * Pools keep their minCount and maxCount, a type in capacity cooldown keeps what it has, and
 * when the mix costs more than the budget in force, instances of the priciest type go first
 * until it fits (the budget is a hard cap); types that are not candidates are left out.
 */
export function createStaticMix(options: Readonly<Record<string, unknown>>, context: Pick<ScalingContext, 'poolTypes'> = {}): ScalingPolicy {
  const raw = options.mix;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('scaling.options.mix: static-mix needs a map of instance type to count, e.g. {g4dn.xlarge: 1, r5n.large: 13}');
  }
  const mix: Record<string, number> = {};
  for (const [type, n] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ConfigError(`scaling.options.mix.${type}: expected a count (integer ≥ 0), got ${JSON.stringify(n)}`);
    checkPoolType(`mix.${type}`, type, context.poolTypes);
    mix[type] = n;
  }
  return {
    name: 'static-mix',
    decide(state) {
      const byType = new Map(state.candidates.map((c) => [c.type, c]));
      // Pool bounds and cooldowns (a type in cooldown keeps what it has), the priciest trimmed to fit the budget.
      const { mix: out, trimmed } = boundMix(mix, state);
      const left = Object.keys(mix).filter((t) => byType.get(t)?.available !== true && (mix[t] ?? 0) > (out[t] ?? 0));
      const notes = [
        ...(trimmed > 0 ? [`trimmed ${trimmed} to fit ${formatUsd(state.budgetUsdPerHour)}/h`] : []),
        ...(left.length > 0 ? [`not growing ${left.join(', ')} (not a candidate, or in capacity cooldown)`] : []),
      ];
      return { mix: out, reason: `static mix ${formatMix(out)}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` };
    },
  };
}
