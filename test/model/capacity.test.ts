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

  it('grows as budget moves from fast to frugal instances (more requests served per dollar)', () => {
    // Kairos' types in order: g4dn.xlarge, c5n.2xlarge, r5n.large, t3.xlarge.
    const bounds = [[4, 0, 2, 0], [3, 0, 6, 0], [2, 0, 9, 0], [1, 0, 13, 0]].map((c) => upperBoundRps(model, c));
    for (let i = 1; i < bounds.length; i++) assert.ok(bounds[i]! > bounds[i - 1]!, bounds.join(' < '));
  });
});
