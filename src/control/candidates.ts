import type { LoadedConfig } from '../config/load.ts';
import { serves } from '../routing/types.ts';
import { ProfileGapError } from '../core/errors.ts';
import type { SizePmf } from '../core/sizes.ts';
import type { RequestClass } from '../core/types.ts';
import { candidateServes, type CandidateType } from './types.ts';

/** Boot delay when a pool does not set one: accelerated instances take longer (driver, model load). */
export const DEFAULT_BOOT_MS = { accelerated: 120_000, other: 60_000 } as const;

/**
 * The config's pools as planner candidates, priced from the (possibly overridden) catalog.
 * Mixes count instances by type, so two pools of one type cannot be sized apart: such a config
 * is refused here, naming the second pool's type (the router alone may have them, for static
 * backends; scaling may not).
 */
export function candidatesFromConfig(loaded: LoadedConfig, unavailable: ReadonlySet<string> = new Set()): CandidateType[] {
  const pools = loaded.config.pools;
  pools.forEach((p, i) => {
    const first = pools.findIndex((q) => q.type === p.type);
    if (first < i) {
      throw loaded.problemAt(
        ['pools', i, 'type'],
        `pool "${p.name}" has type ${p.type}, as pool "${pools[first]!.name}" (pools[${first}]) has; mixes are sized by type, so each pool needs a type of its own (one pool may serve several models: pools[].models)`,
      );
    }
  });
  return pools.map((p) => {
    const fast = loaded.catalog.isAccelerated(p.type);
    return {
      pool: p.name,
      type: p.type,
      usdPerHour: loaded.catalog.price(p.type),
      fast,
      slots: p.slots,
      bootMs: p.bootTime ?? (fast ? DEFAULT_BOOT_MS.accelerated : DEFAULT_BOOT_MS.other),
      minCount: p.minCount,
      maxCount: p.maxCount,
      available: !unavailable.has(p.type),
      profile: (model: string) => {
        if (!serves(p, model)) throw new ProfileGapError(`pool "${p.name}" does not serve model "${model}" (pools[].models)`, { pool: p.name, model });
        return loaded.profiles.table(p.type, model);
      },
      serves: (model: string) => serves(p, model),
    };
  });
}

export function classesFromConfig(loaded: LoadedConfig): RequestClass[] {
  return loaded.config.classes.map((c) => ({ name: c.name, model: c.model, sloMs: c.slo, sloQuantile: c.sloQuantile, share: c.share }));
}

/**
 * The share of a size distribution that no candidate serving `model` has a profile for (sizes
 * above every serving type's largest measured size), and that largest size. Such requests
 * cannot be served: the router and simulator turn them away.
 */
function unprofiledShare(sizes: SizePmf, candidates: readonly CandidateType[], model: string): { share: number; maxSize: number } {
  let maxSize = 0;
  for (const c of candidates) if (candidateServes(c, model)) maxSize = Math.max(maxSize, c.profile(model).maxSize);
  let share = 0;
  for (let i = 0; i < sizes.sizes.length; i++) if (!(sizes.sizes[i]! > 0 && sizes.sizes[i]! <= maxSize)) share += sizes.weights[i]!;
  return { share, maxSize };
}

/** unprofiledShare for each model the classes ask for (one size distribution serves them all). */
export function unprofiledByModel(sizes: SizePmf, classes: readonly RequestClass[], candidates: readonly CandidateType[]): Array<{ model: string; share: number; maxSize: number }> {
  return [...new Set(classes.map((c) => c.model))].map((model) => ({ model, ...unprofiledShare(sizes, candidates, model) }));
}
