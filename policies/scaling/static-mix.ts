import type { ScalingPolicy } from '../../src/control/types.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { formatMix, mixCost } from '../../src/core/types.ts';
import { formatUsd } from '../../src/core/units.ts';

/**
 * Baseline: a fixed mix from `scaling.options.mix` (`{ type: count }`), whatever the load.
 * When it costs more than the budget in force, instances of the priciest type go first until
 * it fits (the budget is a hard cap); types that are not candidates are left out.
 */
export function createStaticMix(options: Readonly<Record<string, unknown>>): ScalingPolicy {
  const raw = options.mix;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('scaling.options.mix: static-mix needs a map of instance type to count, e.g. {g4dn.xlarge: 1, r5n.large: 13}');
  }
  const mix: Record<string, number> = {};
  for (const [type, n] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ConfigError(`scaling.options.mix.${type}: expected a count (integer ≥ 0), got ${JSON.stringify(n)}`);
    mix[type] = n;
  }
  return {
    name: 'static-mix',
    decide(state) {
      const byType = new Map(state.candidates.map((c) => [c.type, c]));
      const out: Record<string, number> = {};
      const left: string[] = [];
      for (const [t, n] of Object.entries(mix)) {
        const c = byType.get(t);
        if (c === undefined || !c.available) left.push(t);
        else if (n > 0) out[t] = Math.min(n, c.maxCount);
      }
      const price = (t: string): number => byType.get(t)!.usdPerHour;
      let trimmed = 0;
      while (mixCost(out, price) > state.budgetUsdPerHour + 1e-9) {
        const priciest = Object.keys(out).sort((a, b) => price(b) - price(a) || (a < b ? -1 : 1))[0]!;
        out[priciest]!--;
        if (out[priciest] === 0) delete out[priciest];
        trimmed++;
      }
      const notes = [
        ...(trimmed > 0 ? [`trimmed ${trimmed} to fit ${formatUsd(state.budgetUsdPerHour)}/h`] : []),
        ...(left.length > 0 ? [`left out unavailable ${left.join(', ')}`] : []),
      ];
      return { mix: out, reason: `static mix ${formatMix(out)}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` };
    },
  };
}
