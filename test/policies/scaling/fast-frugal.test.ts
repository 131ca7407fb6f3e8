import assert from 'node:assert/strict';
import { plannerOptionsFor, type FastFrugal } from '../../../policies/scaling/fast-frugal.ts';
import { createScalingPolicy } from '../../../policies/scaling/index.ts';
import { LatencyHistogram } from '../../../src/core/histogram.ts';
import { mixCost, type Instance } from '../../../src/core/types.ts';
import { kairosCandidates, kairosSizes } from '../../control/kairos-setup.ts';
import { kairosState } from './state.ts';

const price = (t: string) => kairosCandidates.find((c) => c.type === t)!.usdPerHour;
const fleetOf = (mix: Record<string, number>): Instance[] =>
  Object.entries(mix).flatMap(([type, n]) => Array.from({ length: n }, (_, i) => ({ id: `${type}-${i}`, type, pool: type, state: 'running' as const, launchedAtMs: 0, usdPerHour: price(type) })));

describe('fast-frugal scaling policy', () => {
  it('refuses options that are not finite, or an exactLimit that is not a whole count, naming the option and what it got', () => {
    for (const [options, message] of [
      [{ headroom: Infinity }, 'scaling.options.headroom: expected a number ≥ 0, got Infinity'],
      [{ headroom: NaN }, 'scaling.options.headroom: expected a number ≥ 0, got NaN'],
      [{ surgeFactor: Infinity }, 'scaling.options.surgeFactor: expected a number ≥ 0, got Infinity'],
      [{ exactLimit: 2.5 }, 'scaling.options.exactLimit: expected an integer ≥ 1, got 2.5'],
    ] as const) {
      assert.throws(() => createScalingPolicy('fast-frugal', options), (e: unknown) => e instanceof Error && e.message === message);
    }
  });

  it('is the planner as a policy: a mix within budget, with its plan and reason', () => {
    const d = createScalingPolicy('fast-frugal').decide(kairosState(60));
    assert.ok(mixCost(d.mix, price) <= 2.5 + 1e-9);
    assert.deepEqual(d.mix, d.plan?.mix);
    assert.match(d.reason, /rm2 p99/);
  });

  it('while instances drain, decides the interim mix that fits beside them and names the mix the fleet is moving to', () => {
    const goal = createScalingPolicy('fast-frugal').decide(kairosState(60)).mix;
    const draining = fleetOf({ 'g4dn.xlarge': 2 }).map((i) => ({ ...i, id: `d-${i.id}`, state: 'draining' as const }));
    const d = createScalingPolicy('fast-frugal').decide(kairosState(60, 0, draining));
    assert.ok(mixCost(d.mix, price) <= 2.5 - 2 * price('g4dn.xlarge') + 1e-9, JSON.stringify(d.mix));
    assert.notDeepEqual(d.mix, goal);
    assert.deepEqual(d.movingTo, goal);
    assert.equal(createScalingPolicy('fast-frugal').decide(kairosState(60)).movingTo, undefined, 'nothing drains: no interim step');
  });

  it('swings toward fast nodes at low load and toward frugal nodes at peak', () => {
    const low = createScalingPolicy('fast-frugal').decide(kairosState(10)).mix;
    const peak = createScalingPolicy('fast-frugal').decide(kairosState(100)).mix;
    assert.ok((low['g4dn.xlarge'] ?? 0) > (peak['g4dn.xlarge'] ?? 0), `${JSON.stringify(low)} vs ${JSON.stringify(peak)}`);
    assert.ok((peak['r5n.large'] ?? 0) > (low['r5n.large'] ?? 0));
  });

  it('plans for the recent peak until the scale-down delay has passed', () => {
    const p = createScalingPolicy('fast-frugal', { scaleDownDelay: 300_000 });
    const peak = p.decide(kairosState(100, 0)).mix;
    assert.deepEqual(p.decide(kairosState(10, 60_000)).mix, peak, 'a minute after the peak');
    const later = p.decide(kairosState(10, 400_000)).mix;
    assert.notDeepEqual(later, peak, 'after the delay');
  });

  it('keeps large sizes from recent windows in view when a quiet window has none', () => {
    const smallOnly = { sizes: Float64Array.of(50), weights: Float64Array.of(1) };
    const quiet = (nowMs: number) => {
      const s = kairosState(60, nowMs);
      const load = { ...s.load, classes: [{ name: 'rm2', rps: 60, sizes: smallOnly }] };
      return { ...s, load, observed: load };
    };
    const remembering = createScalingPolicy('fast-frugal');
    remembering.decide(kairosState(60, 0));
    const afterKairos = remembering.decide(quiet(30_000));
    const forgetful = createScalingPolicy('fast-frugal').decide(quiet(30_000));
    // Planned for Kairos' sizes too, the predicted tail is that of its large requests (hundreds
    // of ms); for size 50 alone it would be a few tens of ms.
    const p99 = (d: typeof forgetful) => d.plan!.predicted['rm2']!.p99Ms;
    assert.ok(p99(forgetful) < 50, `${p99(forgetful)}`);
    assert.ok(p99(afterKairos) > 150, `${p99(afterKairos)}`);
    assert.ok((afterKairos.mix['g4dn.xlarge'] ?? 0) > 0, JSON.stringify(afterKairos.mix));
  });

  it('after a quiet spell longer than the scale-down delay, plans with the sizes last seen, and holds the fleet while there is no load', () => {
    const empty = { sizes: new Float64Array(0), weights: new Float64Array(0) };
    const silent = (rps: number, nowMs: number, fleet: Instance[]) => {
      const s = kairosState(rps, nowMs, fleet);
      const load = { ...s.load, classes: [{ name: 'rm2', rps, sizes: empty }] };
      return { ...s, load, observed: load };
    };
    const p = createScalingPolicy('fast-frugal');
    const before = p.decide(kairosState(30, 0));
    const fleet = fleetOf(before.mix);
    const quiet = p.decide(silent(0, 1_800_000, fleet));
    assert.deepEqual(quiet.mix, before.mix, `no load: hold (${quiet.reason})`);
    // The estimate still carries a little load while its window holds no request at all.
    const trickle = p.decide(silent(2, 1_830_000, fleet));
    assert.ok(trickle.plan!.predicted['rm2']!.p99Ms > 100, `planned with Kairos' sizes, not with none: ${trickle.plan!.predicted['rm2']!.p99Ms} ms`);
    assert.deepEqual(trickle.mix, before.mix);
  });

  it('tightens its plan when observed p99 runs above the model', () => {
    const mix = { 'g4dn.xlarge': 1, 'r5n.large': 13 };
    const slow = new LatencyHistogram();
    slow.recordMany(900, 1000);
    const state = kairosState(60, 0, fleetOf(mix));
    const observed = { ...state.observed, classes: [{ name: 'rm2', rps: 60, sizes: kairosSizes, latency: slow }] };
    const d = createScalingPolicy('fast-frugal').decide({ ...state, observed });
    assert.match(d.reason, /latency feedback rm2 ×1\.\d\d/);
    // The SLO the plan was held to, tightened by the feedback, reads rounded.
    assert.match(d.reason, / > \d+(\.\d)? ms/);
    assert.doesNotMatch(d.reason, /\d\.\d{2,} ms/);
  });

  it("asks the shared queue's second opinion only for a late-binding router, and not once the observed tail runs above the per-pool model", () => {
    // At 130 rps only the shared queue says 1×g4dn + 13×r5n holds the SLO; after a window on
    // 3×g4dn + 6×r5n whose p99 ran above even the per-pool model's prediction, it is not asked.
    const withP99 = (ms: number) => {
      const state = kairosState(130, 0, fleetOf({ 'g4dn.xlarge': 3, 'r5n.large': 6 }));
      const latency = new LatencyHistogram();
      latency.recordMany(ms, 1000);
      return { ...state, observed: { ...state.observed, classes: [{ name: 'rm2', rps: 60, sizes: kairosSizes, latency }] } };
    };
    assert.deepEqual(createScalingPolicy('fast-frugal').decide(withP99(300)).mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
    // Nor when the router binds at arrival: then each pool has its own queue.
    const atArrival = createScalingPolicy('fast-frugal', {}, { lateBinding: false }).decide(withP99(300));
    assert.equal(atArrival.mix['g4dn.xlarge'] ?? 0, 0, JSON.stringify(atArrival.mix));
    const distrusted = createScalingPolicy('fast-frugal').decide(withP99(500));
    assert.match(distrusted.reason, /latency feedback rm2 ×1\.1/);
    assert.equal(distrusted.mix['g4dn.xlarge'] ?? 0, 0, JSON.stringify(distrusted.mix));
  });

  it('reuses its last plan while load, sizes, fleet and budget stay within replanTolerance, and re-plans when one moves', () => {
    const p = createScalingPolicy('fast-frugal', { scaleDownDelay: 0, feedback: false }) as FastFrugal;
    const first = p.decide(kairosState(60, 0));
    assert.equal(p.decide(kairosState(60.5, 30_000)), first, '+0.8% load: the same decision object');
    assert.equal(p.reused, 1);
    assert.notEqual(p.decide(kairosState(63, 60_000)), first, '+5% load: planned again');
    const fleet = fleetOf(first.mix);
    const withFleet = p.decide(kairosState(63, 90_000, fleet));
    assert.equal(p.reused, 1, 'a fleet change is a new plan');
    assert.equal(p.decide(kairosState(63, 120_000, fleet, 2.4)) === withFleet, false, 'a budget change is a new plan');
    const again = p.decide(kairosState(63, 150_000, fleet, 2.4));
    assert.equal(p.reused, 2);
    p.decide(kairosState(63, 150_000 + 300_000, fleet, 2.4));
    assert.equal(p.reused, 2, 'replanEvery (5 min) passed: planned again');
    assert.ok(again !== undefined);
    const never = createScalingPolicy('fast-frugal', { replanTolerance: 0 }) as FastFrugal;
    never.decide(kairosState(60, 0));
    never.decide(kairosState(60, 30_000));
    assert.equal(never.reused, 0, 'replanTolerance 0 plans every tick');
  });

  it('names an unknown option, listing those it takes, and a bad value with what it expects', () => {
    assert.throws(() => createScalingPolicy('fast-frugal', { headrom: 0.2 }), /scaling\.options\.headrom: not an option of fast-frugal \(allowed: headroom, .*tailSlack/);
    assert.throws(() => createScalingPolicy('fast-frugal', { sharedQueue: 'yes' }), /scaling\.options\.sharedQueue: expected true or false/);
    // Called directly (as plan does), not through the registry's check of names.
    assert.throws(() => plannerOptionsFor('fast-frugal', { toString: 1 }, { lateBinding: true }), /scaling\.options\.toString: not an option of fast-frugal/);
    assert.throws(() => createScalingPolicy('fast-frugal', { tailSlack: -0.1 }), /scaling\.options\.tailSlack: expected a number ≥ 0, got -0\.1/);
    assert.throws(() => createScalingPolicy('fast-frugal', { replanTolerance: 1 }), /scaling\.options\.replanTolerance: expected a fraction in \[0, 1\)/);
    assert.throws(() => createScalingPolicy('fast-frugal', { scaleDownDelay: -1 }), /scaling\.options\.scaleDownDelay: expected milliseconds ≥ 0/);
  });

  it('passes its planner options to the planner, and turns the shared queue off behind a router that binds at arrival', () => {
    const p = createScalingPolicy('fast-frugal', { tailSlack: 0.3, minGain: 0.1 }) as FastFrugal;
    assert.deepEqual(p.options.planner, { tailSlack: 0.3, minGain: 0.1 });
    const atArrival = createScalingPolicy('fast-frugal', { minGain: 0.1 }, { lateBinding: false }) as FastFrugal;
    assert.deepEqual(atArrival.options.planner, { sharedQueue: false, minGain: 0.1 });
    assert.deepEqual((createScalingPolicy('fast-frugal', { sharedQueue: true }, { lateBinding: false }) as FastFrugal).options.planner, { sharedQueue: true });
  });
});
