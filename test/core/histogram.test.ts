import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../src/core/histogram.ts';
import { Rng } from '../../src/core/rng.ts';

/** numpy-style "higher" percentile of a sorted array, the reference HDR approximates. */
function reference(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

describe('LatencyHistogram', () => {
  const rng = new Rng(7);
  const values = Array.from({ length: 50_000 }, () => rng.lognormal(3, 1));
  const sorted = [...values].sort((a, b) => a - b);
  const h = new LatencyHistogram();
  for (const v of values) h.record(v);

  it('reports percentiles within 0.2% of a sorted-array reference', () => {
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const want = reference(sorted, q);
      const got = h.quantile(q);
      assert.ok(Math.abs(got - want) / want < 0.002, `q${q}: ${got} vs ${want}`);
    }
    assert.equal(h.count, values.length);
  });

  it('merges: the merge of two halves equals the whole', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    values.forEach((v, i) => (i % 2 === 0 ? a : b).record(v));
    a.merge(b);
    assert.equal(a.count, h.count);
    assert.equal(a.quantile(0.99), h.quantile(0.99));
  });

  it('round-trips through its compressed base64 encoding', () => {
    const back = LatencyHistogram.decode(h.encode());
    assert.equal(back.count, h.count);
    assert.equal(back.quantile(0.999), h.quantile(0.999));
    assert.ok(Math.abs(back.maxMs - h.maxMs) / h.maxMs < 0.001);
  });

  it('reads 0 from an empty histogram instead of failing', () => {
    const e = new LatencyHistogram();
    assert.equal(e.quantile(0.99), 0);
    assert.equal(e.maxMs, 0);
  });
});
