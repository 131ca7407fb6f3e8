import assert from 'node:assert/strict';
import { MixscaleError } from '../../../src/core/errors.ts';
import { parseBounds, resolveBounds } from '../../../src/node/edge/bounds.ts';

const EXITS = [
  { exit: 1, accuracy: 0.9685, energy: 3.98 },
  { exit: 2, accuracy: 0.9833, energy: 18.37 },
  { exit: 3, accuracy: 0.9963, energy: 64.44 },
];
const MEDIAN_PATH = [1, 3.5, 10.5];
const resolve = (p: Record<string, unknown>) => resolveBounds(parseBounds(p), EXITS, (k) => MEDIAN_PATH[k]!, 'mJ');

function rejects(p: Record<string, unknown>, field: string, text: RegExp): void {
  assert.throws(
    () => resolve(p),
    (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_REQUEST_INVALID' && e.details.field === field && text.test(e.message) && e.message.startsWith(field),
  );
}

describe('request bounds', () => {
  it('without bounds, any exit may be taken', () => {
    assert.deepEqual(resolve({}), { minExit: 0, maxExit: 2 });
  });

  it('maps min_accuracy to the first exit that reaches it', () => {
    assert.equal(resolve({ min_accuracy: 0.97 }).minExit, 1);
    assert.equal(resolve({ min_accuracy: 0.9685 }).minExit, 0);
    assert.equal(resolve({ min_accuracy: 0.99 }).minExit, 2);
  });

  it('maps max_energy to the last exit within it', () => {
    assert.equal(resolve({ max_energy: 20 }).maxExit, 1);
    assert.equal(resolve({ max_energy: 1000 }).maxExit, 2);
  });

  it('rejects negative or zero bounds, naming the field', () => {
    rejects({ latency_ms: -5 }, 'parameters.latency_ms', /out of range/);
    rejects({ latency_ms: 0 }, 'parameters.latency_ms', /out of range/);
    rejects({ max_energy: -1 }, 'parameters.max_energy', /out of range/);
    rejects({ min_accuracy: -0.1 }, 'parameters.min_accuracy', /out of range/);
    rejects({ min_accuracy: 1.5 }, 'parameters.min_accuracy', /out of range/);
  });

  it('rejects bounds that are not numbers', () => {
    rejects({ latency_ms: '50' }, 'parameters.latency_ms', /expected a number/);
    rejects({ latency_ms: null }, 'parameters.latency_ms', /expected a number/);
  });

  it('rejects impossible bounds: no exit accurate enough, cheap enough or fast enough', () => {
    rejects({ min_accuracy: 0.999 }, 'parameters.min_accuracy', /impossible: the most accurate exit reaches 0\.9963/);
    rejects({ max_energy: 2 }, 'parameters.max_energy', /impossible: the cheapest exit takes 3\.98 mJ/);
    rejects({ latency_ms: 0.5 }, 'parameters.latency_ms', /impossible: the fastest exit takes 1\.00 ms/);
  });

  it('says how many rows the latency floor is for', () => {
    assert.throws(() => resolveBounds(parseBounds({ latency_ms: 5 }), EXITS, (k) => MEDIAN_PATH[k]! * 8, 'mJ', 8), /^MixscaleError: parameters\.latency_ms: 5 ms is impossible: the fastest exit takes 8\.00 ms at the median on this node for 8 rows$/);
  });

  it('rejects bounds that exclude each other', () => {
    rejects({ min_accuracy: 0.99, max_energy: 20 }, 'parameters.max_energy', /exclude each other/);
    rejects({ min_accuracy: 0.99, latency_ms: 5 }, 'parameters.latency_ms', /exit 3 \(needed for min_accuracy 0\.99\) takes 10\.50 ms/);
  });
});
