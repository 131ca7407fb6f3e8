import type { CandidateType, LoadObservation } from '../control/types.ts';
import { MixscaleError } from '../core/errors.ts';
import type { SizePmf } from '../core/sizes.ts';
import type { RequestClass } from '../core/types.ts';
import { PerformanceModel, type ModelClass, type ModelOptions, type ModelType } from './predict.ts';
import { serviceColumn } from './service.ts';

/** Size bins the planner's model keeps per class: enough for p99.9, cheap enough for ~1000 mixes. */
const MODEL_BINS = 32;

/**
 * The performance model for these candidate types, classes and load. A class missing from the
 * load has no traffic. Types without a profile for a class's model cannot serve that class.
 */
export function buildModel(
  candidates: readonly CandidateType[],
  classes: readonly RequestClass[],
  load: LoadObservation,
  options: Partial<ModelOptions> = {},
): PerformanceModel {
  const modelClasses: ModelClass[] = classes.map((c) => {
    const l = load.classes.find((x) => x.name === c.name);
    const sizes = coarsen(l?.sizes ?? { sizes: Float64Array.of(1), weights: Float64Array.of(1) }, MODEL_BINS);
    return { name: c.name, sloMs: c.sloMs, sloQuantile: c.sloQuantile, rps: l?.rps ?? 0, sizes };
  });
  const types: ModelType[] = candidates.map((t) => ({
    type: t.type,
    fast: t.fast,
    slots: t.slots,
    usdPerHour: t.usdPerHour,
    columns: classes.map((c, k) => {
      let table;
      try {
        table = t.profile(c.model);
      } catch (e) {
        if (e instanceof MixscaleError && e.code === 'MIXSCALE_PROFILE_GAP') {
          const n = modelClasses[k]!.sizes.sizes.length;
          return { type: t.type, meanMs: new Float64Array(n).fill(NaN), secondMs2: new Float64Array(n).fill(NaN) };
        }
        throw e;
      }
      return serviceColumn(table, modelClasses[k]!.sizes);
    }),
  }));
  if (types.length > 31) throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `the planner models at most 31 pools; the config has ${types.length}`);
  return new PerformanceModel(types, modelClasses, options);
}

/**
 * Merges adjacent points of a pmf (sorted by size) into at most about `bins` groups, each at its
 * mean size: equal mass over the lower 90%, a quarter of the groups over the largest 10% (the
 * sizes that set the tail), and the two largest points kept as they are.
 */
export function coarsen(pmf: SizePmf, bins: number): SizePmf {
  const n = pmf.sizes.length;
  if (n <= bins) return pmf;
  let total = 0;
  for (let i = 0; i < n; i++) total += pmf.weights[i]!;
  const tailBins = Math.max(1, Math.floor(bins / 4));
  const bodyBins = bins - tailBins;
  // Upper cumulative-mass edge of group g (as a fraction of the total).
  const edge = (g: number): number => (g <= bodyBins ? (0.9 * g) / bodyBins : 0.9 + (0.1 * (g - bodyBins)) / tailBins);
  const sizes: number[] = [];
  const weights: number[] = [];
  let acc = 0;
  let w = 0;
  let ws = 0;
  let first = 0;
  let group = 1;
  for (let i = 0; i < n; i++) {
    const wi = pmf.weights[i]!;
    w += wi;
    ws += wi * pmf.sizes[i]!;
    acc += wi;
    if (i === n - 1 || i >= n - 3 || acc >= edge(group) * total - 1e-12) {
      // The weighted mean, kept within the sizes it merges: (w·s)/w can round past s (a lone
      // 1000 read 1000.0000000000001, beyond every profile, so no pool "served" it).
      sizes.push(Math.min(pmf.sizes[i]!, Math.max(pmf.sizes[first]!, ws / w)));
      weights.push(w / total);
      w = 0;
      ws = 0;
      first = i + 1;
      while (group < bins && acc >= edge(group) * total - 1e-12) group++;
    }
  }
  return { sizes: Float64Array.from(sizes), weights: Float64Array.from(weights) };
}
