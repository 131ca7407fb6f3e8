import type { CandidateType, ScalingDecision, ScalingPolicy, ScalingState } from '../../src/control/types.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { formatMix, isActive, type Mix } from '../../src/core/types.ts';
import { fixed } from '../../src/core/units.ts';
import { buildModel } from '../../src/model/build.ts';
import { upperBoundRps } from '../../src/model/capacity.ts';
import { keepFleet, noTypeDecision } from './capacity.ts';
import type { ScalingPolicyOptions } from './index.ts';

/**
 * Kairos' resource allocator (Li et al., HPDC'23), reproduced from the paper and its repository's
 * kairos_resource_allocator.py: enumerate every configuration within the budget that has at
 * least one GPU instance, score each by an upper bound on the throughput it can serve within
 * QoS assuming ideal matching of queries to instances (src/model/capacity.ts), and run the
 * configuration with the highest bound. The bound is load-independent, so the mix is static:
 * it provisions for peak throughput.
 */
export function kairosBestMix(state: Pick<ScalingState, 'budgetUsdPerHour' | 'candidates' | 'classes' | 'load'> & Partial<Pick<ScalingState, 'fleet'>>): { mix: Mix; boundRps: number; configs: number } {
  const cands = state.candidates;
  // The bound depends on the size mixture and class shares, not on the absolute rate.
  const load = { ...state.load, classes: state.load.classes.map((c) => ({ name: c.name, rps: c.rps > 0 ? c.rps : 1, sizes: c.sizes })) };
  const model = buildModel(cands, state.classes, load);
  const counts = new Array<number>(cands.length).fill(0);
  let best: number[] = [];
  let bestBound = -1;
  let bestUsd = Infinity;
  let configs = 0;
  // A type in capacity cooldown keeps what it has (pending or running), as every policy's does.
  const hi = cands.map((c) => (c.available ? c.maxCount : Math.max(c.minCount, Math.min(c.maxCount, heldOf(state.fleet ?? [], c.pool)))));
  const walk = (i: number, usd: number): void => {
    if (i === cands.length) {
      if (!counts.some((n, t) => n > 0 && cands[t]!.fast)) return;
      configs++;
      const b = upperBoundRps(model, counts);
      if (b > bestBound + 1e-9 || (Math.abs(b - bestBound) <= 1e-9 && usd < bestUsd)) {
        bestBound = b;
        bestUsd = usd;
        best = [...counts];
      }
      return;
    }
    for (let n = cands[i]!.minCount; n <= hi[i]!; n++) {
      const u = usd + n * cands[i]!.usdPerHour;
      if (u > state.budgetUsdPerHour + 1e-9) break;
      counts[i] = n;
      walk(i + 1, u);
    }
    counts[i] = 0;
  };
  walk(0, 0);
  const mix: Record<string, number> = {};
  best.forEach((n, i) => {
    if (n > 0) mix[cands[i]!.type] = (mix[cands[i]!.type] ?? 0) + n;
  });
  return { mix, boundRps: Math.max(0, bestBound), configs };
}

/** Instances of a pool that count as held in a cooldown: pending or running. */
function heldOf(fleet: ScalingState['fleet'], pool: string): number {
  return fleet.filter((i) => i.pool === pool && isActive(i)).length;
}

/** Request sizes kairos waits to have seen before its choice is final. */
const SIZES_TO_SETTLE = 1000;

export function createKairos(options: ScalingPolicyOptions): ScalingPolicy {
  const unknown = Object.keys(options);
  if (unknown.length > 0) throw new ConfigError(`scaling.options.${unknown[0]}: kairos takes no options`);
  let cacheKey = '';
  let cached: ScalingDecision | undefined;
  // Requests whose sizes have been seen: the choice, which depends on the size mixture, is kept
  // for good only once it rests on SIZES_TO_SETTLE of them (a first quiet window would fix it).
  let seen = 0;
  let seenUntil = -Infinity;
  return {
    name: 'kairos',
    decide(state: ScalingState): ScalingDecision {
      // Counted from what was observed, each part of time once (windows may overlap from tick to tick).
      const obs = state.observed;
      const spanMs = Math.min(obs.windowMs, obs.atMs - seenUntil);
      if (spanMs > 0) {
        seenUntil = obs.atMs;
        for (const c of obs.classes) if (c.sizes.sizes.length > 0 && c.rps > 0 && Number.isFinite(c.rps)) seen += (c.rps * spanMs) / 1000;
      }
      const key = `${state.budgetUsdPerHour}|${state.candidates.map((c: CandidateType) => `${c.type}:${c.available ? 'up' : heldOf(state.fleet, c.pool)}`).join(',')}`;
      if (cached !== undefined && key === cacheKey) return cached;
      // The bound depends on the request sizes: before any is seen (no traffic), no choice to make.
      if (!state.load.classes.some((c) => c.sizes.sizes.length > 0) && state.fleet.some(isActive)) {
        return keepFleet(state, 'kairos: no request sizes seen yet');
      }
      const r = kairosBestMix(state);
      // No configuration with a GPU instance (every fast type in cooldown, none held): keep
      // the fleet rather than scale it to nothing.
      if (r.configs === 0) return noTypeDecision(state, undefined, 'fast ');
      const decision = { mix: r.mix, reason: `kairos: ${formatMix(r.mix)} has the highest throughput upper bound (${r.boundRps.toFixed(0)} rps) of ${r.configs} configurations within $${fixed(state.budgetUsdPerHour, 2)}/h` };
      if (seen >= SIZES_TO_SETTLE) {
        cacheKey = key;
        cached = decision;
      }
      return decision;
    },
  };
}
