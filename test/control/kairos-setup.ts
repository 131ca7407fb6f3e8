import { ServiceProfiles } from '../../src/catalog/profiles.ts';
import type { CandidateType, LoadObservation } from '../../src/control/types.ts';
import { Rng } from '../../src/core/rng.ts';
import { sizePmf } from '../../src/core/sizes.ts';
import type { RequestClass } from '../../src/core/types.ts';

/** Kairos' setup (infra/profiles/README.md): four types, their prices and counts, rm2 with 350 ms at p99. */
const profiles = ServiceProfiles.load();

export function kairosCandidate(type: string, usdPerHour: number, maxCount: number, extra: Partial<CandidateType> = {}): CandidateType {
  return {
    pool: type, type, usdPerHour, fast: type.startsWith('g4dn'), slots: 1, bootMs: 60_000, minCount: 0, maxCount, available: true,
    profile: (m) => profiles.table(type, m),
    ...extra,
  };
}

export const kairosCandidates: CandidateType[] = [
  kairosCandidate('g4dn.xlarge', 0.526, 5),
  kairosCandidate('c5n.2xlarge', 0.432, 6),
  kairosCandidate('r5n.large', 0.149, 17),
  kairosCandidate('t3.xlarge', 0.1664, 15),
];

/** The same setup as config: Kairos' four types as pools, rm2 at 350 ms, $2.5/h (spread into loadConfigObject). */
export const kairosConfig = {
  budget: { usdPerHour: 2.5 },
  classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
  pools: [
    { name: 'gpu', type: 'g4dn.xlarge' },
    { name: 'c5n', type: 'c5n.2xlarge' },
    { name: 'r5n', type: 'r5n.large' },
    { name: 't3', type: 't3.xlarge' },
  ],
};

export const rm2Class: RequestClass[] = [{ name: 'rm2', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 }];

export const kairosSizes = sizePmf({ kind: 'kairos' }, new Rng(1));

export function rm2Load(rps: number, atMs = 0): LoadObservation {
  return { atMs, windowMs: 60_000, classes: [{ name: 'rm2', rps, sizes: kairosSizes }] };
}
