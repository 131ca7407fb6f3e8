import type { ProfileTable } from '../catalog/profiles.ts';
import type { SizePmf } from '../core/sizes.ts';

/**
 * Service times of one request class on one instance type, per size bin of the class's size
 * distribution: what the queueing model needs, computed once per decision and reused for every
 * mix the planner tries. A bin the profile does not cover (too large) has NaN mean.
 */
export interface ServiceColumn {
  readonly type: string;
  readonly meanMs: Float64Array;
  /** E[S²] per bin (ms²): mean² · (1 + scv). */
  readonly secondMs2: Float64Array;
}

export function serviceColumn(table: ProfileTable, sizes: SizePmf): ServiceColumn {
  const n = sizes.sizes.length;
  const meanMs = new Float64Array(n);
  const secondMs2 = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const s = sizes.sizes[j]!;
    if (!table.covers(s)) {
      meanMs[j] = NaN;
      secondMs2[j] = NaN;
      continue;
    }
    const m = table.meanMs(s);
    meanMs[j] = m;
    secondMs2[j] = m * m * (1 + table.scv(s));
  }
  return { type: table.type, meanMs, secondMs2 };
}
