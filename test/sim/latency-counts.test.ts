import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../src/core/histogram.ts';
import { Rng } from '../../src/core/rng.ts';
import { LatencyCounts } from '../../sim/latency-counts.ts';

describe('latency counts (the hot-path front of an HDR histogram)', () => {
  it('drains into exactly the histogram that recording each value directly gives', () => {
    const rng = new Rng(4);
    const direct = new LatencyHistogram();
    const counts = new LatencyCounts();
    const values = [0, 0.0004, 0.001, 1, 2.047, 2.048, 2.049, 999.9, 12_345.678, 3_000_000];
    for (let i = 0; i < 50_000; i++) values.push(rng.lognormal(4, 1.5));
    for (const v of values) {
      direct.record(v);
      counts.record(v);
    }
    const drained = counts.take();
    assert.equal(drained.count, direct.count);
    assert.equal(drained.encode(), direct.encode());
    for (const q of [0, 0.1, 0.5, 0.9, 0.99, 0.999, 1]) assert.equal(drained.quantile(q), direct.quantile(q));
    assert.equal(drained.maxMs, direct.maxMs);
  });

  it('adds one set of counts into another as if every value had been recorded into it', () => {
    const rng = new Rng(9);
    const all = new LatencyCounts();
    const a = new LatencyCounts();
    const b = new LatencyCounts();
    for (let i = 0; i < 10_000; i++) {
      const v = i === 5 ? 3_000_000 : rng.lognormal(i % 2 === 0 ? 2 : 6, 1);
      all.record(v);
      (i < 4000 ? a : b).record(v);
    }
    a.addFrom(b);
    assert.equal(a.count, all.count);
    for (const q of [0, 0.5, 0.9, 0.99, 1]) assert.equal(a.quantileMs(q), all.quantileMs(q));
    assert.equal(a.take().encode(), all.take().encode());
    assert.equal(b.count, 6000, 'the other keeps its counts');
  });

  it('answers quantiles exactly as the HDR histogram would, without building one', () => {
    const rng = new Rng(8);
    const direct = new LatencyHistogram();
    const counts = new LatencyCounts();
    for (let i = 0; i < 20_000; i++) {
      const v = rng.lognormal(3, 1.2);
      direct.record(v);
      counts.record(v);
    }
    for (const q of [0, 0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1]) assert.equal(counts.quantileMs(q), direct.quantile(q), `q=${q}`);
    counts.record(5_000_000);
    direct.record(5_000_000);
    assert.equal(counts.quantileMs(1), direct.quantile(1));
    assert.equal(new LatencyCounts().quantileMs(0.5), 0);
  });

  it('keeps the largest value exact, and no quantile above it', () => {
    const counts = new LatencyCounts();
    counts.record(100.3);
    counts.record(5000.7);
    assert.equal(counts.quantileMs(1), 5000.7);
    const h = counts.take();
    assert.equal(h.maxMs, 5000.7);
    assert.equal(h.quantile(0.99), 5000.7);
    assert.equal(h.quantile(0.5), 100.351, 'other quantiles keep their bucket');
  });

  it('starts over after a drain', () => {
    const counts = new LatencyCounts();
    counts.record(5);
    counts.take();
    counts.record(7);
    const h = counts.take();
    assert.equal(h.count, 1);
    assert.ok(Math.abs(h.quantile(0.5) - 7) < 0.01);
  });
});
