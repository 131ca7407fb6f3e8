import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';

function mean(n: number, draw: () => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += draw();
  return s / n;
}

describe('Rng', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 5 }, () => a.nextU32());
    assert.deepEqual(xs, Array.from({ length: 5 }, () => b.nextU32()));
    assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.nextU32()));
  });

  it('keeps the streams of seeds below 2^32 as they were (recorded numbers stay valid)', () => {
    const first = (seed: number): number[] => {
      const r = new Rng(seed);
      return Array.from({ length: 4 }, () => r.nextU32());
    };
    assert.deepEqual(first(0), [3809008728, 1133695204, 53579671, 2891528803]);
    assert.deepEqual(first(1), [2442144158, 3238099751, 3819917871, 2104621829]);
    assert.deepEqual(first(42), [2837322924, 544945897, 479756282, 3500138142]);
    assert.deepEqual(first(2 ** 32 - 1), [835879718, 1921286648, 2356205009, 1885780724]);
  });

  it('gives seeds of 2^32 and above their own streams (the high bits count)', () => {
    const first = (seed: number): string => {
      const r = new Rng(seed);
      return Array.from({ length: 4 }, () => r.nextU32()).join(',');
    };
    const seen = new Map<string, number>();
    for (const seed of [0, 1, 2, 2 ** 32, 2 ** 32 + 1, 2 ** 32 + 2, 2 ** 33, 2 ** 33 + 1, 3 * 2 ** 32, 2 ** 53 - 1, 2 ** 52]) {
      const s = first(seed);
      assert.equal(seen.get(s), undefined, `seed ${seed} repeats seed ${seen.get(s)}`);
      seen.set(s, seed);
    }
    assert.equal(first(2 ** 40 + 7), first(2 ** 40 + 7));
  });

  it('draws uniforms in [0, 1) with mean 1/2', () => {
    const r = new Rng(1);
    let lo = 1;
    let hi = 0;
    const m = mean(200_000, () => {
      const x = r.next();
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      return x;
    });
    assert.ok(Math.abs(m - 0.5) < 0.005, `mean ${m}`);
    assert.ok(lo >= 0 && hi < 1);
  });

  it('draws exponentials with mean 1/rate', () => {
    const r = new Rng(2);
    const m = mean(200_000, () => r.exponential(4));
    assert.ok(Math.abs(m - 0.25) / 0.25 < 0.01, `mean ${m}`);
  });

  it('draws lognormals with mean exp(mu + sigma²/2)', () => {
    const r = new Rng(3);
    const m = mean(200_000, () => r.lognormal(5.1, 0.2));
    const expected = Math.exp(5.1 + 0.02);
    assert.ok(Math.abs(m - expected) / expected < 0.01, `mean ${m} vs ${expected}`);
  });
});
