import assert from 'node:assert/strict';
import { ServiceProfiles } from '../../src/catalog/profiles.ts';
import type { CandidateType } from '../../src/control/types.ts';
import { buildModel, coarsen } from '../../src/model/build.ts';

const profiles = ServiceProfiles.load();
const r5n: CandidateType = {
  pool: 'r5n', type: 'r5n.large', usdPerHour: 0.149, fast: false, slots: 1, bootMs: 0, minCount: 0, maxCount: 100, available: true,
  profile: (m) => profiles.table('r5n.large', m),
};
const rm2 = [{ name: 'rm2', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 }];

/**
 * A pmf of sizes 10..1000 (as the router observes Kairos' sizes) whose largest point's weight w
 * gives (w·1000)/w = 1000.0000000000001 in floating point: a mean computed that way lands above
 * the largest profiled size.
 */
function observedSizes(): { sizes: Float64Array; weights: Float64Array } {
  const sizes = Float64Array.from({ length: 100 }, (_, i) => 10 * (i + 1));
  const weights = new Float64Array(100).fill(0.0035888942761);
  weights[99] = 0.6446294659658129;
  return { sizes, weights };
}

describe('buildModel / coarsen', () => {
  it('keeps every coarsened size within the sizes it merges (a lone 1000 stays 1000, not 1000.0000000000001)', () => {
    const pmf = observedSizes();
    assert.ok((pmf.weights[99]! * 1000) / pmf.weights[99]! > 1000, 'the weight chosen no longer shows the rounding');
    const c = coarsen(pmf, 32);
    assert.ok(c.sizes.length < pmf.sizes.length);
    for (const s of c.sizes) assert.ok(s >= 10 && s <= 1000, `coarsened size ${s} is outside 10..1000`);
    assert.equal(c.sizes[c.sizes.length - 1], 1000);
  });

  it('does not count observed sizes within the profiles as sizes no pool serves', () => {
    const m = buildModel([r5n], rm2, { atMs: 0, windowMs: 60_000, classes: [{ name: 'rm2', rps: 1, sizes: observedSizes() }] });
    assert.equal(m.routable([4]).unservedRate, 0);
  });
});
