import assert from 'node:assert/strict';
import { LatencyBudget } from '../../../src/node/edge/latency-budget.ts';

describe('node/edge/latency-budget', () => {
  it('plans with the starting percentile until it has enough answers', () => {
    const b = new LatencyBudget({ within: 0.99, start: 0.99, minSamples: 100 });
    for (let i = 0; i < 99; i++) b.record(false);
    assert.equal(b.percentile(), 0.99);
    for (let i = 0; i < 20; i++) b.record(false);
    assert.ok(b.percentile() < 0.99, `got ${b.percentile()}`);
  });

  it('loosens while lateness stays under half the budget, down to its floor', () => {
    const b = new LatencyBudget({ within: 0.99, start: 0.99, min: 0.5 });
    let prev = b.percentile();
    for (let i = 0; i < 300; i++) {
      b.record(false);
      assert.ok(b.percentile() <= prev);
      prev = b.percentile();
    }
    assert.ok(prev < 0.95, `got ${prev}`);
    for (let i = 0; i < 2000; i++) b.record(false);
    assert.equal(b.percentile(), 0.5);
  });

  it('tightens as soon as lateness passes 80% of the budget, up to its ceiling', () => {
    const b = new LatencyBudget({ within: 0.99, start: 0.9, window: 500, max: 0.999 });
    for (let i = 0; i < 200; i++) b.record(false);
    const loose = b.percentile();
    // 1 late in 100 over the window: above 0.8 × 1%.
    for (let i = 0; i < 500; i++) b.record(i % 100 === 0);
    assert.ok(b.lateShare() > 0.008, `late share ${b.lateShare()}`);
    assert.ok(b.percentile() > loose, `${b.percentile()} vs ${loose}`);
    for (let i = 0; i < 500; i++) b.record(true);
    assert.equal(b.percentile(), 0.999);
  });

  it('holds between half and 80% of the budget', () => {
    const b = new LatencyBudget({ within: 0.9, start: 0.95, window: 100, minSamples: 100 });
    // 7 late in every 100: between 5% and 8%.
    for (let i = 0; i < 100; i++) b.record(i % 100 < 7);
    const q = b.percentile();
    for (let i = 0; i < 300; i++) b.record(i % 100 < 7);
    assert.equal(b.percentile(), q);
  });

  it('forgets answers older than its window', () => {
    const b = new LatencyBudget({ within: 0.99, start: 0.99, window: 200 });
    for (let i = 0; i < 200; i++) b.record(true);
    assert.equal(b.lateShare(), 1);
    for (let i = 0; i < 200; i++) b.record(false);
    assert.equal(b.lateShare(), 0);
  });

  it('refuses a target outside (0, 1)', () => {
    assert.throws(() => new LatencyBudget({ within: 1, start: 0.99 }), /within must be in \(0, 1\)/);
  });
});
