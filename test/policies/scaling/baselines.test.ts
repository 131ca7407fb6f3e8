import assert from 'node:assert/strict';
import { createScalingPolicy } from '../../../policies/scaling/index.ts';
import { loadConfigObject } from '../../../src/config/load.ts';
import { candidatesFromConfig, classesFromConfig } from '../../../src/control/candidates.ts';
import type { CandidateType, LoadObservation, ScalingState } from '../../../src/control/types.ts';
import { ConfigError } from '../../../src/core/errors.ts';
import { Rng } from '../../../src/core/rng.ts';
import { sizePmf } from '../../../src/core/sizes.ts';
import { mixCost, type Instance } from '../../../src/core/types.ts';
import { kairosConfig } from '../../control/kairos-setup.ts';

const loaded = loadConfigObject(kairosConfig);
const candidates = candidatesFromConfig(loaded);
const classes = classesFromConfig(loaded);
const sizes = sizePmf({ kind: 'kairos' }, new Rng(1));
const price = (t: string): number => candidates.find((c) => c.type === t)!.usdPerHour;

function load(rps: number): LoadObservation {
  return { atMs: 0, windowMs: 30_000, classes: [{ name: 'rm2', rps, sizes }] };
}

function instances(type: string, n: number, state: Instance['state'] = 'running'): Instance[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${type}-${i}`, type, pool: type, state, launchedAtMs: 0, usdPerHour: price(type) }));
}

function state(over: Partial<ScalingState> = {}): ScalingState {
  return { nowMs: 0, budgetUsdPerHour: 2.5, fleet: [], classes, candidates, load: load(50), observed: load(50), ...over };
}

describe('baseline scaling policies', () => {
  it('homogeneous-fast spends the whole budget on the GPU type', () => {
    const d = createScalingPolicy('homogeneous-fast').decide(state());
    assert.deepEqual(d.mix, { 'g4dn.xlarge': 4 });
    assert.match(d.reason, /g4dn\.xlarge/);
  });

  it('homogeneous-cheap picks the frugal type with the most capacity per dollar for the sizes seen', () => {
    // rm2 on Kairos' sizes: r5n.large serves about as fast as c5n.2xlarge at a third of the price.
    const d = createScalingPolicy('homogeneous-cheap').decide(state());
    assert.deepEqual(d.mix, { 'r5n.large': 16 });
  });

  it('homogeneous policies honour a named type and skip a type in capacity cooldown', () => {
    assert.deepEqual(createScalingPolicy('homogeneous-cheap', { type: 't3.xlarge' }).decide(state()).mix, { 't3.xlarge': 15 });
    const cooled: CandidateType[] = candidates.map((c) => (c.type === 'r5n.large' ? { ...c, available: false } : c));
    const d = createScalingPolicy('homogeneous-cheap').decide(state({ candidates: cooled }));
    assert.equal(d.mix['r5n.large'], undefined);
  });

  it('a one-type policy whose type is in capacity cooldown keeps the fleet it has', () => {
    const cooled: CandidateType[] = candidates.map((c) => (c.type === 'g4dn.xlarge' ? { ...c, available: false } : c));
    for (const [name, options] of [['homogeneous-fast', {}], ['target-tracking', { type: 'g4dn.xlarge' }]] as const) {
      const d = createScalingPolicy(name, options).decide(state({ candidates: cooled, fleet: instances('g4dn.xlarge', 3) }));
      assert.deepEqual(d.mix, { 'g4dn.xlarge': 3 }, `${name}: ${d.reason}`);
      assert.match(d.reason, /keeping the fleet as it is/);
    }
  });

  it('static-mix runs the configured counts and trims the priciest type to fit the budget', () => {
    const fits = createScalingPolicy('static-mix', { mix: { 'g4dn.xlarge': 1, 'r5n.large': 13 } }).decide(state());
    assert.deepEqual(fits.mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
    const over = createScalingPolicy('static-mix', { mix: { 'g4dn.xlarge': 3, 'r5n.large': 13 } }).decide(state());
    assert.ok(mixCost(over.mix, price) <= 2.5);
    assert.equal(over.mix['r5n.large'], 13);
    assert.match(over.reason, /trimmed/);
  });

  it('static-mix says which option is wrong', () => {
    assert.throws(() => createScalingPolicy('static-mix'), (e: unknown) => e instanceof ConfigError && /scaling\.options\.mix/.test(e.message));
    assert.throws(() => createScalingPolicy('static-mix', { mix: { 'r5n.large': -1 } }), /scaling\.options\.mix\.r5n\.large/);
  });

  it('refuses a type no pool has, in static-mix\'s mix or a baseline\'s type, when the pools are known', () => {
    const context = { lateBinding: true, poolTypes: ['g4dn.xlarge', 'r5n.large', 'r5n.large'] };
    const notAPool = (e: unknown, path: string): boolean => e instanceof ConfigError && e.message === `scaling.options.${path}: m5.large is not the type of any pool (the pools' types: g4dn.xlarge, r5n.large)`;
    assert.throws(() => createScalingPolicy('static-mix', { mix: { 'r5n.large': 2, 'm5.large': 2 } }, context), (e) => notAPool(e, 'mix.m5.large'));
    assert.throws(() => createScalingPolicy('oracle-static', { mix: { 'm5.large': 1 } }, context), (e) => notAPool(e, 'mix.m5.large'));
    for (const p of ['homogeneous-fast', 'homogeneous-cheap', 'target-tracking']) assert.throws(() => createScalingPolicy(p, { type: 'm5.large' }, context), (e) => notAPool(e, 'type'), p);
    assert.deepEqual(createScalingPolicy('static-mix', { mix: { 'r5n.large': 2 } }, context).decide(state()).mix, { 'r5n.large': 2 });
  });

  describe('target-tracking', () => {
    it('scales out by n·u/target when utilization is above target', () => {
      const p = createScalingPolicy('target-tracking', { type: 'r5n.large' });
      const d = p.decide(state({ fleet: instances('r5n.large', 5), utilization: { 'r5n.large': 0.9 } }));
      assert.deepEqual(d.mix, { 'r5n.large': 8 });
    });

    it('holds within the 10% tolerance', () => {
      const p = createScalingPolicy('target-tracking', { type: 'r5n.large' });
      assert.deepEqual(p.decide(state({ fleet: instances('r5n.large', 5), utilization: { 'r5n.large': 0.63 } })).mix, { 'r5n.large': 5 });
    });

    it('scales down only to the highest recommendation of the stabilization window', () => {
      const p = createScalingPolicy('target-tracking', { type: 'r5n.large', stabilizationWindow: 300_000 });
      assert.deepEqual(p.decide(state({ nowMs: 0, fleet: instances('r5n.large', 10), utilization: { 'r5n.large': 0.6 } })).mix, { 'r5n.large': 10 });
      // Load falls: the raw recommendation is 5, but 10 was recommended within the window.
      assert.deepEqual(p.decide(state({ nowMs: 60_000, fleet: instances('r5n.large', 10), utilization: { 'r5n.large': 0.3 } })).mix, { 'r5n.large': 10 });
      assert.deepEqual(p.decide(state({ nowMs: 400_000, fleet: instances('r5n.large', 10), utilization: { 'r5n.large': 0.3 } })).mix, { 'r5n.large': 5 });
    });

    it('never asks for more than the budget affords, pending instances included', () => {
      const p = createScalingPolicy('target-tracking', { type: 'g4dn.xlarge' });
      const d = p.decide(state({ fleet: [...instances('g4dn.xlarge', 3), ...instances('g4dn.xlarge', 1, 'pending')], utilization: { 'g4dn.xlarge': 1 } }));
      assert.deepEqual(d.mix, { 'g4dn.xlarge': 4 });
      assert.match(d.reason, /capped by budget/);
    });

    it('sizes the first fleet from the observed load when nothing serves yet', () => {
      const d = createScalingPolicy('target-tracking', { type: 'r5n.large' }).decide(state({ load: load(50), observed: load(50) }));
      // 50 rps × ~100 ms mean service = ~5 busy slots, at 60% target ≈ 9 instances.
      const n = d.mix['r5n.large']!;
      assert.ok(n >= 7 && n <= 11, `${n} instances`);
    });

    it('rejects a target outside (0, 1]', () => {
      assert.throws(() => createScalingPolicy('target-tracking', { targetUtilization: 2 }), /targetUtilization/);
    });
  });
});
