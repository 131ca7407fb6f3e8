import assert from 'node:assert/strict';
import { createScalingPolicy } from '../../../policies/scaling/index.ts';
import { kairosBestMix } from '../../../policies/scaling/kairos.ts';
import type { Instance } from '../../../src/core/types.ts';
import { kairosCandidates } from '../../control/kairos-setup.ts';
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

  it('makes no lasting choice before any request size is seen: it keeps a fleet it has, and chooses again once traffic shows', () => {
    const unsized = (fleet: Instance[] = []) => {
      const s = kairosState(0, 0, fleet);
      const load = { ...s.load, classes: [{ name: 'rm2', rps: 0, sizes: { sizes: new Float64Array(0), weights: new Float64Array(0) } }] };
      return { ...s, load, observed: load };
    };
    const p = createScalingPolicy('kairos');
    p.decide(unsized());
    assert.deepEqual(p.decide(kairosState(80)).mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
    const r5n = Array.from({ length: 10 }, (_, i): Instance => ({ id: `r-${i}`, type: 'r5n.large', pool: 'r5n.large', state: 'running', launchedAtMs: 0, usdPerHour: 0.149 }));
    const held = createScalingPolicy('kairos').decide(unsized(r5n));
    assert.deepEqual(held.mix, { 'r5n.large': 10 }, held.reason);
    // Once chosen on enough sizes, a quiet tick keeps the choice.
    const settled = createScalingPolicy('kairos');
    const chosen = settled.decide(kairosState(80)).mix;
    assert.deepEqual(settled.decide(unsized(r5n)).mix, chosen);
  });

  it('settles only once it has seen enough request sizes: a thin first window does not fix the mix', () => {
    const thin = (() => {
      const s = kairosState(1); // one request a second: 60 sizes in the window
      const load = { ...s.load, classes: [{ name: 'rm2', rps: 1, sizes: { sizes: Float64Array.of(1000), weights: Float64Array.of(1) } }] };
      return { ...s, load, observed: load };
    })();
    const p = createScalingPolicy('kairos');
    assert.notDeepEqual(p.decide(thin).mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
    assert.deepEqual(p.decide(kairosState(80)).mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
  });

  it('counts each observed request once, however the windows of successive ticks overlap', () => {
    // 4 rps of size 1000, seen through 60 s windows every 10 s for 2 minutes: 240 + 11 × 40 = 680
    // requests, fewer than the 1,000 it settles on (counting whole windows would make 3,120).
    const big = (atMs: number) => {
      const s = kairosState(4, atMs);
      const load = { atMs, windowMs: 60_000, classes: [{ name: 'rm2', rps: 4, sizes: { sizes: Float64Array.of(1000), weights: Float64Array.of(1) } }] };
      return { ...s, load, observed: load };
    };
    const p = createScalingPolicy('kairos');
    for (let t = 0; t <= 110_000; t += 10_000) p.decide(big(t));
    assert.deepEqual(p.decide(kairosState(80, 120_000)).mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 }, 'not settled on the size-1000 windows');
  });

  it('with the GPU type in capacity cooldown, keeps the GPUs it has; with none, keeps the fleet rather than empty it', () => {
    const cooled = kairosCandidates.map((c) => (c.type === 'g4dn.xlarge' ? { ...c, available: false } : c));
    const gpus = (n: number) => Array.from({ length: n }, (_, i): Instance => ({ id: `g-${i}`, type: 'g4dn.xlarge', pool: 'g4dn.xlarge', state: 'running', launchedAtMs: 0, usdPerHour: 0.526 }));
    const held = createScalingPolicy('kairos').decide({ ...kairosState(60, 0, gpus(3)), candidates: cooled });
    assert.ok((held.mix['g4dn.xlarge'] ?? 0) >= 1 && (held.mix['g4dn.xlarge'] ?? 0) <= 3, JSON.stringify(held.mix));
    const r5n = (n: number) => Array.from({ length: n }, (_, i): Instance => ({ id: `r-${i}`, type: 'r5n.large', pool: 'r5n.large', state: 'running', launchedAtMs: 0, usdPerHour: 0.149 }));
    const none = createScalingPolicy('kairos').decide({ ...kairosState(60, 0, r5n(10)), candidates: cooled });
    assert.deepEqual(none.mix, { 'r5n.large': 10 }, none.reason);
    assert.match(none.reason, /keeping the fleet as it is/);
  });
});
