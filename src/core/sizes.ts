import type { Rng } from './rng.ts';

/**
 * Request sizes (the unit the service-time profiles are indexed by: Kairos' query size,
 * a batch, or tokens). A spec describes a distribution; `sizeSampler` draws from it and
 * `sizePmf` discretizes it for the performance model.
 */
export type SizeSpec =
  | { readonly kind: 'fixed'; readonly size: number }
  | { readonly kind: 'uniform'; readonly min: number; readonly max: number }
  | { readonly kind: 'lognormal'; readonly mu: number; readonly sigma: number; readonly min?: number; readonly max?: number }
  | { readonly kind: 'mixture'; readonly components: ReadonlyArray<{ readonly weight: number; readonly dist: SizeSpec }> }
  /** Kairos' query-size mixture (its helper.py, from the DeepRecSys trace): see infra/profiles/README.md. */
  | { readonly kind: 'kairos' };

/** Discrete distribution of sizes: points ascending, weights summing to 1. */
export interface SizePmf {
  readonly sizes: Float64Array;
  readonly weights: Float64Array;
}

export type SizeSampler = (rng: Rng) => number;

export function sizeSampler(spec: SizeSpec): SizeSampler {
  switch (spec.kind) {
    case 'fixed':
      return () => spec.size;
    case 'uniform':
      return (rng) => rng.intBetween(spec.min, spec.max);
    case 'lognormal': {
      const lo = spec.min ?? 1;
      const hi = spec.max ?? Infinity;
      return (rng) => Math.min(hi, Math.max(lo, Math.round(rng.lognormal(spec.mu, spec.sigma))));
    }
    case 'mixture': {
      const total = spec.components.reduce((a, c) => a + c.weight, 0);
      let sum = 0;
      const cum = Float64Array.from(spec.components, (c) => (sum += c.weight) / total);
      const samplers = spec.components.map((c) => sizeSampler(c.dist));
      return (rng) => {
        const u = rng.next();
        let i = 0;
        while (i < cum.length - 1 && u >= cum[i]!) i++;
        return samplers[i]!(rng);
      };
    }
    case 'kairos':
      return kairosSize;
  }
}

/**
 * Kairos' query sizes: 8/99 U{1..99}, 22/99 U{200..599}, 5/99 U{600..999}, 64/99
 * lognormal(5.1, 0.2) kept in [100, 200] else U{190..199}; then rounded up to a multiple of 10.
 */
function kairosSize(rng: Rng): number {
  const r = rng.intBetween(1, 99);
  let size: number;
  if (r <= 8) size = rng.intBetween(1, 99);
  else if (r <= 30) size = rng.intBetween(200, 599);
  else if (r <= 35) size = rng.intBetween(600, 999);
  else {
    const x = rng.lognormal(5.1, 0.2);
    size = x >= 100 && x <= 200 ? x : rng.intBetween(190, 199);
  }
  return Math.ceil(size / 10) * 10;
}

/** Discretizes a spec by sampling (deterministic for a seed) into at most `bins` weighted points. */
export function sizePmf(spec: SizeSpec, rng: Rng, samples = 20_000, bins = 64): SizePmf {
  const draw = sizeSampler(spec);
  const xs = new Float64Array(samples);
  for (let i = 0; i < samples; i++) xs[i] = draw(rng);
  return pmfFromSamples(xs, bins);
}

/**
 * Bins over sorted samples, each represented by its mean size: equal mass over the lower 90%,
 * and a quarter of the bins over the largest 10%, because the largest sizes set the tail
 * latency (a bin averaging sizes 790..1000 hides that only those above ~870 are too slow for
 * a CPU type within 350 ms).
 */
export function pmfFromSamples(samples: ArrayLike<number>, bins = 64): SizePmf {
  const xs = new Float64Array(samples).sort();
  const n = xs.length;
  if (n === 0) return { sizes: new Float64Array(0), weights: new Float64Array(0) };
  const k = Math.min(bins, n);
  const tailBins = k >= 8 ? Math.floor(k / 4) : 0;
  const bodyBins = k - tailBins;
  const bodyMass = tailBins > 0 ? 0.9 : 1;
  // Cumulative fraction of the samples at bin edge b.
  const edge = (b: number): number => (b <= bodyBins ? (b / bodyBins) * bodyMass : bodyMass + ((b - bodyBins) / tailBins) * (1 - bodyMass));
  const sizes: number[] = [];
  const weights: number[] = [];
  for (let b = 0; b < k; b++) {
    const lo = Math.floor(edge(b) * n);
    const hi = b === k - 1 ? n : Math.floor(edge(b + 1) * n);
    if (hi <= lo) continue;
    let s = 0;
    for (let i = lo; i < hi; i++) s += xs[i]!;
    const mean = s / (hi - lo);
    const w = (hi - lo) / n;
    if (sizes.length > 0 && Math.abs(sizes[sizes.length - 1]! - mean) < 1e-9) weights[weights.length - 1]! += w;
    else {
      sizes.push(mean);
      weights.push(w);
    }
  }
  return { sizes: Float64Array.from(sizes), weights: Float64Array.from(weights) };
}
