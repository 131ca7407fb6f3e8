/**
 * Twenty candidate types for the planner-speed benchmark. Only four are measured (Kairos:
 * g4dn.xlarge, c5n.2xlarge, r5n.large, t3.xlarge). The other sixteen are SYNTHESIZED from them:
 * - GPU types: the measured T4 (g4dn.xlarge) service times divided by the MLPerf Inference
 *   ResNet50 Offline throughput ratio of their GPU to the T4 (../shared/data/catalog/
 *   gpu-throughput-mlperf.csv: T4 6121, A10 13805, L4 12882 samples/s, one accelerator), so A10G ×
 *   1/2.26 and L4 × 1/2.10; g4dn.2xlarge has the same T4, so the same times.
 * - CPU types: a measured type of the same family or generation scaled by vCPU count (service
 *   time × measured vCPU / vCPU), an optimistic assumption (single-request latency rarely scales
 *   linearly with cores); c6i/c7i are taken as c5n per vCPU.
 * Prices are the bundled catalog's on-demand us-east-1 prices. These profiles exist to time the
 * search on a realistic-sized catalog, not to predict those types' real latencies.
 */
import { ProfileTable, PROFILE_KNOTS, type ServiceProfiles } from '../src/catalog/profiles.ts';
import type { Catalog } from '../src/catalog/catalog.ts';
import type { CandidateType } from '../src/control/types.ts';

const T4 = 6121.33;
const A10 = 13805.2;
const L4 = 12881.7;

/** [type, measured base type, service-time factor]. */
export const SYNTHETIC: ReadonlyArray<readonly [string, string, number]> = [
  ['g4dn.xlarge', 'g4dn.xlarge', 1],
  ['c5n.2xlarge', 'c5n.2xlarge', 1],
  ['r5n.large', 'r5n.large', 1],
  ['t3.xlarge', 't3.xlarge', 1],
  ['g4dn.2xlarge', 'g4dn.xlarge', 1],
  ['g5.xlarge', 'g4dn.xlarge', T4 / A10],
  ['g5.2xlarge', 'g4dn.xlarge', T4 / A10],
  ['g6.xlarge', 'g4dn.xlarge', T4 / L4],
  ['g6.2xlarge', 'g4dn.xlarge', T4 / L4],
  ['c5n.xlarge', 'c5n.2xlarge', 8 / 4],
  ['c5n.4xlarge', 'c5n.2xlarge', 8 / 16],
  ['c5n.9xlarge', 'c5n.2xlarge', 8 / 36],
  ['c6i.2xlarge', 'c5n.2xlarge', 1],
  ['c7i.2xlarge', 'c5n.2xlarge', 1],
  ['r5n.xlarge', 'r5n.large', 2 / 4],
  ['r5n.2xlarge', 'r5n.large', 2 / 8],
  ['m5n.large', 'r5n.large', 1],
  ['m5.xlarge', 'r5n.large', 2 / 4],
  ['m5.2xlarge', 'r5n.large', 2 / 8],
  ['t3.2xlarge', 't3.xlarge', 4 / 8],
];

function scaled(base: ProfileTable, type: string, factor: number): ProfileTable {
  const rows = Array.from(base.sizes, (size) => ({
    size,
    meanMs: base.meanMs(size) * factor,
    scv: base.scv(size),
    knots: PROFILE_KNOTS.map((q) => base.quantileMs(size, q) * factor),
  }));
  return new ProfileTable(type, base.model, rows);
}

export function syntheticCandidates(catalog: Catalog, profiles: ServiceProfiles, maxCount = 1000): CandidateType[] {
  return SYNTHETIC.map(([type, base, factor]) => {
    const cache = new Map<string, ProfileTable>();
    return {
      pool: type,
      type,
      usdPerHour: catalog.price(type),
      fast: catalog.isAccelerated(type),
      slots: 1,
      bootMs: catalog.isAccelerated(type) ? 120_000 : 60_000,
      minCount: 0,
      maxCount,
      available: true,
      profile: (model: string) => {
        let t = cache.get(model);
        if (t === undefined) cache.set(model, (t = factor === 1 && type === base ? profiles.table(base, model) : scaled(profiles.table(base, model), type, factor)));
        return t;
      },
    };
  });
}
