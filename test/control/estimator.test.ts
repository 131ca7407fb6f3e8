import assert from 'node:assert/strict';
import { LoadEstimator } from '../../src/control/estimator.ts';
import { LatencyFeedback } from '../../src/control/latency-feedback.ts';
import type { LoadObservation } from '../../src/control/types.ts';

const sizes = { sizes: Float64Array.of(100), weights: Float64Array.of(1) };
const obs = (atMs: number, rps: number, windowMs = 6_000): LoadObservation => ({ atMs, windowMs, classes: [{ name: 'a', rps, sizes }] });
const rpsOf = (l: LoadObservation) => l.classes[0]!.rps;

/** Feeds 6-second windows of the given rates, ending at t = 6 s, 12 s, ... */
function feed(e: LoadEstimator, rates: number[], startMs = 0): LoadObservation {
  let out = obs(0, 0);
  rates.forEach((r, i) => {
    const t = startMs + (i + 1) * 6_000;
    out = e.estimate(obs(t, r), t);
  });
  return out;
}

describe('LoadEstimator', () => {
  it('averages over the 60 s stable window', () => {
    const e = new LoadEstimator();
    const l = feed(e, [10, 10, 10, 10, 10, 20, 20, 20, 20, 20]);
    assert.ok(Math.abs(rpsOf(l) - 15) < 1e-9, String(rpsOf(l)));
  });

  it('forgets windows older than the stable window', () => {
    const e = new LoadEstimator();
    const l = feed(e, [...Array<number>(10).fill(100), ...Array<number>(10).fill(10)]);
    assert.ok(Math.abs(rpsOf(l) - 10) < 1e-9);
  });

  it('panics on a burst of twice the stable rate and plans for the burst at once', () => {
    const e = new LoadEstimator();
    const l = feed(e, [...Array<number>(10).fill(10), 40]);
    assert.equal(rpsOf(l), 40);
    assert.ok(e.panicking('a', 66_000));
  });

  it('does not panic on a rise below the threshold', () => {
    const e = new LoadEstimator();
    const l = feed(e, [...Array<number>(10).fill(10), 15]);
    assert.ok(rpsOf(l) < 15);
    assert.equal(e.panicking('a', 66_000), false);
  });

  it('panics on a burst with windows as long as a tick or a router snapshot, as with 6 s ones', () => {
    // 30 s windows every 30 s (a simulator tick), and 60 s windows every 30 s (a router snapshot).
    for (const windowMs of [30_000, 60_000]) {
      const e = new LoadEstimator();
      for (let t = 30_000; t <= 300_000; t += 30_000) e.estimate(obs(t, 10, windowMs), t);
      const burst = windowMs === 30_000 ? 1000 : 505; // a 60 s window holding 30 s of the burst
      const l = e.estimate(obs(330_000, burst, windowMs), 330_000);
      assert.ok(e.panicking('a', 330_000), `window ${windowMs} ms`);
      assert.equal(rpsOf(l), burst);
      // Doubling is not a burst at these weights either (20 against 0.9 × 10 + 0.1 × 20).
      const calm = new LoadEstimator();
      for (let t = 30_000; t <= 300_000; t += 30_000) calm.estimate(obs(t, 10, windowMs), t);
      calm.estimate(obs(330_000, 20, windowMs), 330_000);
      assert.equal(calm.panicking('a', 330_000), false);
    }
  });

  it('stays in panic mode for a stable window, holding the larger estimate while the burst fades', () => {
    const e = new LoadEstimator();
    feed(e, [...Array<number>(10).fill(10), 40]);
    const t = 72_000;
    const l = e.estimate(obs(t, 10), t);
    assert.ok(e.panicking('a', t));
    assert.ok(rpsOf(l) > 10);
  });

  it('looks ahead with Holt’s trend on a steady ramp', () => {
    const ramp = Array.from({ length: 40 }, (_, i) => 10 + i);
    const plain = rpsOf(feed(new LoadEstimator(), ramp));
    const holt = rpsOf(feed(new LoadEstimator({ forecast: 'holt', horizonMs: 120_000 }), ramp));
    assert.ok(holt > plain + 5, `holt ${holt} vs plain ${plain}`);
  });

  it('looks ahead one season back with seasonal-naive forecasting', () => {
    const season = 600_000;
    const e = new LoadEstimator({ forecast: 'seasonal-naive', seasonMs: season, horizonMs: 60_000 });
    // Last season: flat 10 rps, then a jump to 30 rps at 480 s.
    const day = Array.from({ length: 100 }, (_, i) => ((i + 1) * 6_000 >= 480_000 ? 30 : 10));
    feed(e, day);
    // This season, 30 s before the jump, still at 10 rps: the forecast expects the jump.
    const l = feed(e, Array<number>(75).fill(10), season);
    assert.ok(rpsOf(l) > 20, String(rpsOf(l)));
  });

  it('names a bad option', () => {
    assert.throws(() => new LoadEstimator({ panicWindowMs: 120_000 }), /panicWindow/);
  });
});

describe('LatencyFeedback', () => {
  it('raises the correction when observed p99 exceeds the prediction, within its bounds', () => {
    const f = new LatencyFeedback({ gain: 0.5 });
    assert.equal(f.factor('a'), 1);
    f.observe('a', 300, 200, 1000);
    assert.ok(Math.abs(f.factor('a') - 1.25) < 1e-9);
    for (let i = 0; i < 50; i++) f.observe('a', 10_000, 100, 1000);
    assert.ok(Math.abs(f.factor('a') - 2) < 1e-9 && f.factor('a') <= 2);
  });

  it('ignores thin windows and never loosens below 1 by default', () => {
    const f = new LatencyFeedback();
    f.observe('a', 900, 100, 10);
    assert.equal(f.factor('a'), 1);
    f.observe('a', 50, 100, 1000);
    assert.equal(f.factor('a'), 1);
  });
});
