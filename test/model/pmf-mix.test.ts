import assert from 'node:assert/strict';
import { mixPmfs } from '../../src/model/pmf-mix.ts';

const pmf = (pairs: Array<[number, number]>) => ({ sizes: Float64Array.from(pairs, (p) => p[0]), weights: Float64Array.from(pairs, (p) => p[1]) });

describe('mixPmfs', () => {
  it('weights each part, sorts by size and merges equal sizes', () => {
    const m = mixPmfs([
      { pmf: pmf([[100, 0.5], [900, 0.5]]), weight: 1 },
      { pmf: pmf([[100, 1]]), weight: 3 },
    ]);
    assert.deepEqual([...m.sizes], [100, 900]);
    assert.deepEqual([...m.weights], [0.875, 0.125]);
  });

  it('keeps a rare large size seen in one window among many windows without it', () => {
    const quiet = { pmf: pmf([[50, 1]]), weight: 10 };
    const m = mixPmfs([quiet, quiet, quiet, { pmf: pmf([[50, 0.9], [950, 0.1]]), weight: 10 }]);
    assert.equal(m.sizes[m.sizes.length - 1], 950);
    assert.ok(Math.abs(m.weights[m.weights.length - 1]! - 0.025) < 1e-12);
  });

  it('ignores parts with no weight', () => {
    const m = mixPmfs([{ pmf: pmf([[10, 1]]), weight: 0 }, { pmf: pmf([[20, 1]]), weight: 2 }]);
    assert.deepEqual([...m.sizes], [20]);
  });
});
