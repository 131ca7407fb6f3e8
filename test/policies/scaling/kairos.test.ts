import assert from 'node:assert/strict';
import { createScalingPolicy } from '../../../policies/scaling/index.ts';
import { kairosBestMix } from '../../../policies/scaling/kairos.ts';
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

  it('needs at least one GPU instance, as Kairos does', () => {
    const r = kairosBestMix(kairosState(50, 0, [], 0.5));
    assert.deepEqual(r.mix, {});
  });
});
