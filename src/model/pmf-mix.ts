import type { SizePmf } from '../core/sizes.ts';

/**
 * The mixture of several size pmfs, each weighted (e.g. by the requests it summarizes): points
 * sorted by size, equal sizes merged, weights summing to 1. A 30 s window of a bursty trace may
 * hold no large request at all; planning on the mixture of recent windows keeps the rare large
 * sizes, which set the tail, in view.
 */
export function mixPmfs(parts: ReadonlyArray<{ readonly pmf: SizePmf; readonly weight: number }>): SizePmf {
  const pts: Array<[number, number]> = [];
  let total = 0;
  for (const { pmf, weight } of parts) {
    if (!(weight > 0)) continue;
    for (let i = 0; i < pmf.sizes.length; i++) {
      const w = pmf.weights[i]! * weight;
      if (w > 0) {
        pts.push([pmf.sizes[i]!, w]);
        total += w;
      }
    }
  }
  pts.sort((a, b) => a[0] - b[0]);
  const sizes: number[] = [];
  const weights: number[] = [];
  for (const [s, w] of pts) {
    if (sizes.length > 0 && sizes[sizes.length - 1] === s) weights[weights.length - 1]! += w / total;
    else {
      sizes.push(s);
      weights.push(w / total);
    }
  }
  return { sizes: Float64Array.from(sizes), weights: Float64Array.from(weights) };
}
