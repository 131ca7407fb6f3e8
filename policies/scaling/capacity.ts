import { ConfigError } from '../../src/core/errors.ts';
import { candidateServes, type CandidateType, type ScalingDecision, type ScalingState } from '../../src/control/types.ts';
import { activeMix, formatMix, isActive, mixCost, type Mix, type RequestClass } from '../../src/core/types.ts';
import { formatUsd } from '../../src/core/units.ts';

// What the baseline scaling policies share: the pool and budget bounds of a mix (boundMix),
// what the budget affords of a type, how much serving work the observed load brings to a type
// (from its measured profile), the option readers and the decisions that keep the fleet.

/**
 * The pool bounds every policy keeps: each type between its pools' minCount and maxCount, and a
 * type in capacity cooldown at no more than it has (pending or running) or its minCount. When the
 * whole costs more than the budget, instances of the priciest type go first: down to the
 * minCounts, then (the budget wins) below them. Also says how many were trimmed for the budget.
 */
export function boundMix(want: Mix, state: Pick<ScalingState, 'candidates' | 'fleet' | 'budgetUsdPerHour'>): { mix: Record<string, number>; trimmed: number } {
  const types = new Map<string, { min: number; max: number; available: boolean; usd: number }>();
  for (const c of state.candidates) {
    const t = types.get(c.type) ?? { min: 0, max: 0, available: true, usd: c.usdPerHour };
    types.set(c.type, { min: t.min + c.minCount, max: t.max + c.maxCount, available: t.available && c.available, usd: t.usd });
  }
  const mix: Record<string, number> = {};
  for (const [type, t] of types) {
    let n = Math.min(t.max, Math.max(t.min, want[type] ?? 0));
    if (!t.available) n = Math.min(n, Math.max(t.min, state.fleet.filter((i) => i.type === type && isActive(i)).length));
    if (n > 0) mix[type] = n;
  }
  const usd = (): number => mixCost(mix, (type) => types.get(type)!.usd);
  let trimmed = 0;
  while (usd() > state.budgetUsdPerHour + 1e-9) {
    const order = Object.keys(mix).sort((a, b) => types.get(b)!.usd - types.get(a)!.usd || (a < b ? -1 : 1));
    const type = order.find((t) => mix[t]! > types.get(t)!.min) ?? order[0]!;
    if (--mix[type]! === 0) delete mix[type];
    trimmed++;
  }
  return { mix, trimmed };
}

/** What the other types' minCounts cost: the budget a one-type policy has left for its type. */
export function othersMinimumUsd(candidates: readonly CandidateType[], type: string): number {
  return candidates.reduce((a, c) => (c.type === type ? a : a + c.minCount * c.usdPerHour), 0);
}

/**
 * A one-type fleet: what the budget pays for of `c` once the other pools' minCount are paid,
 * within the pool bounds, and the reason to report.
 */
export function wholeBudgetOn(c: CandidateType, state: Pick<ScalingState, 'candidates' | 'fleet' | 'budgetUsdPerHour'>): { mix: Record<string, number>; reason: string } {
  const { mix } = boundMix({ [c.type]: affordable(c, state.budgetUsdPerHour - othersMinimumUsd(state.candidates, c.type)) }, state);
  const others = Object.entries(mix).filter(([t]) => t !== c.type);
  const kept = others.length > 0 ? ` (and the other pools' minCount: ${formatMix(Object.fromEntries(others))})` : '';
  return { mix, reason: `whole ${formatUsd(state.budgetUsdPerHour)}/h budget on ${c.type}: ${mix[c.type] ?? 0} × ${formatUsd(c.usdPerHour)}/h${kept}` };
}

/** Most instances of `c` the budget pays for, within its pool bounds (the budget wins over minCount). */
export function affordable(c: CandidateType, budgetUsdPerHour: number): number {
  return Math.max(0, Math.min(c.maxCount, Math.floor(budgetUsdPerHour / c.usdPerHour + 1e-9)));
}

/**
 * Busy slots the load needs on type `c`: Σ over classes of rps × mean service time (s) over the
 * class's observed size distribution. NaN when no class has sizes to go by.
 */
export function demandSlots(c: CandidateType, classes: readonly RequestClass[], state: Pick<ScalingState, 'load'>): number {
  let slots = 0;
  let known = false;
  for (const cl of state.load.classes) {
    const rc = classes.find((x) => x.name === cl.name);
    if (rc === undefined || cl.sizes.sizes.length === 0 || !candidateServes(c, rc.model)) continue;
    const table = c.profile(rc.model);
    let meanMs = 0;
    for (let i = 0; i < cl.sizes.sizes.length; i++) meanMs += cl.sizes.weights[i]! * table.meanMs(Math.min(cl.sizes.sizes[i]!, table.maxSize));
    slots += (cl.rps * meanMs) / 1000;
    known = true;
  }
  return known ? slots : NaN;
}

/** Serving capacity per dollar of a type for the observed load (higher is better); NaN when unknown. */
function capacityPerDollar(c: CandidateType, classes: readonly RequestClass[], state: Pick<ScalingState, 'load'>): number {
  // Demand at 1 rps per class share tells the mean service time regardless of the load level.
  const unit = { load: { ...state.load, classes: state.load.classes.map((cl) => ({ name: cl.name, rps: 1, sizes: cl.sizes })) } };
  const busyPerRequest = demandSlots(c, classes, unit);
  return c.slots / (busyPerRequest * c.usdPerHour);
}

/** Reads an optional string option, or says which option is wrong. */
export function stringOption(policy: string, options: Readonly<Record<string, unknown>>, key: string, poolTypes?: readonly string[]): string | undefined {
  const v = options[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new ConfigError(`scaling.options.${key}: ${policy} expects an instance type name, got ${JSON.stringify(v)}`);
  checkPoolType(key, v, poolTypes);
  return v;
}

/**
 * A type an option names (`scaling.options.PATH`) must be a pool's type when the pools are known
 * (ScalingContext.poolTypes): another type is never launched, so the fleet would serve nothing.
 */
export function checkPoolType(path: string, type: string, poolTypes: readonly string[] | undefined): void {
  if (poolTypes === undefined || poolTypes.includes(type)) return;
  throw new ConfigError(`scaling.options.${path}: ${type} is not the type of any pool (the pools' types: ${[...new Set(poolTypes)].join(', ')})`);
}

/** Reads an optional number option within [min, max], or says which option is wrong. */
export function numberOption(policy: string, options: Readonly<Record<string, unknown>>, key: string, fallback: number, min: number, max: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= min && v <= max)) throw new ConfigError(`scaling.options.${key}: ${policy} expects a number in [${min}, ${max}], got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
  return v;
}

/**
 * The type a one-type baseline runs: the named candidate, or among those `eligible` and
 * available the one with the most serving capacity per dollar for the observed sizes (the
 * cheapest when sizes are unknown).
 */
export function chooseType(
  state: Pick<ScalingState, 'candidates' | 'classes' | 'load'>,
  named: string | undefined,
  eligible: (c: CandidateType) => boolean,
): CandidateType | undefined {
  if (named !== undefined) return state.candidates.find((c) => c.type === named && c.available) ?? undefined;
  let best: CandidateType | undefined;
  let bestScore = -Infinity;
  for (const c of state.candidates) {
    if (!c.available || !eligible(c)) continue;
    const perDollar = capacityPerDollar(c, state.classes, state);
    const s = Number.isNaN(perDollar) ? -c.usdPerHour : perDollar;
    if (best === undefined || s > bestScore) {
      best = c;
      bestScore = s;
    }
  }
  return best;
}

/**
 * What a one-type baseline decides when no type qualifies (its type is in capacity cooldown):
 * it keeps the fleet it has (within the pool bounds and the budget), and says why.
 */
export function noTypeDecision(state: Pick<ScalingState, 'candidates' | 'fleet' | 'budgetUsdPerHour'>, named: string | undefined, kind: string): ScalingDecision {
  return keepFleet(state, named !== undefined ? `type ${named} is not an available candidate` : `no ${kind}type available among the candidates`);
}

/** Keeps the fleet's pending and running instances (within the pool bounds and the budget), saying why. */
export function keepFleet(state: Pick<ScalingState, 'candidates' | 'fleet' | 'budgetUsdPerHour'>, why: string): ScalingDecision {
  return { mix: boundMix(activeMix(state.fleet), state).mix, reason: `${why}: keeping the fleet as it is` };
}
