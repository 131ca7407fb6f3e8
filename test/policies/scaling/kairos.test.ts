import assert from 'node:assert/strict';
import { createScalingPolicy } from '../../../policies/scaling/index.ts';
import { kairosBestMix, kairosUpperBoundRps } from '../../../policies/scaling/kairos.ts';
import { buildModel } from '../../../src/model/build.ts';
import { kairosCandidates, rm2Class, rm2Load } from '../../control/kairos-setup.ts';
import { kairosState } from './state.ts';

describe('kairos scaling policy (Kairos’ upper-bound allocator)', () => {
  it('picks 1 g4dn.xlarge + 13 r5n.large at $2.5/h, the configuration Kairos reports, with a bound near 143 rps', () => {
    const r = kairosBestMix(kairosState(50));
    assert.deepEqual(r.mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
    assert.ok(r.boundRps > 135 && r.boundRps < 150, String(r.boundRps));
  });

  it('holds the same mix whatever the load (it provisions for peak throughput)', () => {
    const p = createScalingPolicy('kairos');
    assert.deepEqual(p.decide(kairosState(5)).mix, p.decide(kairosState(120)).mix);
  });

  it('bounds a fleet’s throughput by its fluid capacity, excluding sizes no type meets the QoS on', () => {
    const model = buildModel(kairosCandidates, rm2Class, rm2Load(1));
    const oneGpu = kairosUpperBoundRps(model, [1, 0, 0, 0]);
    const twoGpu = kairosUpperBoundRps(model, [2, 0, 0, 0]);
    assert.ok(Math.abs(twoGpu - 2 * oneGpu) < 0.01 * oneGpu);
    assert.equal(kairosUpperBoundRps(model, [0, 0, 16, 0]), 0, 'r5n alone cannot serve the largest sizes within 350 ms');
  });

  it('needs at least one GPU instance, as Kairos does', () => {
    const r = kairosBestMix(kairosState(50, 0, [], 0.5));
    assert.deepEqual(r.mix, {});
  });
});
