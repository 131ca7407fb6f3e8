import assert from 'node:assert/strict';
import { buildModel } from '../../src/model/build.ts';
import { upperBoundRps } from '../../src/model/capacity.ts';
import { kairosCandidates, rm2Class, rm2Load } from '../control/kairos-setup.ts';

describe('upper bound on a mix’s throughput (Kairos’ fluid capacity)', () => {
  const model = buildModel(kairosCandidates, rm2Class, rm2Load(1));

  it('scales with the instances and excludes sizes no type of the mix meets the QoS on', () => {
    const oneGpu = upperBoundRps(model, [1, 0, 0, 0]);
    const twoGpu = upperBoundRps(model, [2, 0, 0, 0]);
    assert.ok(oneGpu > 0);
    assert.ok(Math.abs(twoGpu - 2 * oneGpu) < 0.01 * oneGpu);
    assert.equal(upperBoundRps(model, [0, 0, 16, 0]), 0, 'r5n alone cannot serve the largest sizes within 350 ms');
  });

  it('is 0 for every mix while no size has been seen (no traffic), not a bound from nothing', () => {
    const none = { ...rm2Load(0), classes: [{ name: 'rm2', rps: 0, sizes: { sizes: new Float64Array(0), weights: new Float64Array(0) } }] };
    const blind = buildModel(kairosCandidates, rm2Class, none);
    assert.equal(upperBoundRps(blind, [4, 0, 2, 0]), 0);
    assert.equal(upperBoundRps(blind, [0, 0, 16, 0], { withinSlo: true }), 0);
  });

  it('lets a class leave what its SLO quantile allows unplaced when asked (withinSlo), per model', () => {
    // At 250 ms no type serves the largest sizes in time (g4dn's largest bin takes ~254 ms), but they are under 1% of requests.
    const mix = [3, 0, 6, 0];
    assert.ok(upperBoundRps(model, mix) > 0, 'at 350 ms every size has a type that serves it in time');
    // Asked after the 350 ms model, the 250 ms one still uses its own bins.
    const tight = buildModel(kairosCandidates, [{ ...rm2Class[0]!, sloMs: 250 }], rm2Load(1));
    assert.equal(upperBoundRps(tight, mix), 0, 'Kairos’ bound: every size must be placed');
    const within = upperBoundRps(tight, mix, { withinSlo: true });
    assert.ok(within > 0, String(within));
    // At p90 a class may leave 10% unplaced: more load still.
    const p90 = buildModel(kairosCandidates, [{ ...rm2Class[0]!, sloMs: 250, sloQuantile: 0.9 }], rm2Load(1));
    assert.ok(upperBoundRps(p90, mix, { withinSlo: true }) > within);
  });

  it('grows as budget moves from fast to frugal instances (more requests served per dollar)', () => {
    // Kairos' types in order: g4dn.xlarge, c5n.2xlarge, r5n.large, t3.xlarge.
    const bounds = [[4, 0, 2, 0], [3, 0, 6, 0], [2, 0, 9, 0], [1, 0, 13, 0]].map((c) => upperBoundRps(model, c));
    for (let i = 1; i < bounds.length; i++) assert.ok(bounds[i]! > bounds[i - 1]!, bounds.join(' < '));
  });
});
