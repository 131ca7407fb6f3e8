import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.ts';
import type { RequestClass } from '../../src/core/types.ts';
import { SimMetrics } from '../../sim/metrics.ts';

const classes: RequestClass[] = [
  { name: 'a', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 },
  { name: 'b', model: 'rm2', sloMs: 100, sloQuantile: 0.99, share: 1 },
];

function metrics(): SimMetrics {
  return new SimMetrics({ classes, types: ['g4dn.xlarge', 'r5n.large'], rng: new Rng(1), startMs: 0 });
}

describe('simulated metrics source', () => {
  it('reports each class\'s arrival rate and sizes over the time since the last observation', async () => {
    const m = metrics();
    for (let i = 0; i < 300; i++) m.arrival(0, 100);
    for (let i = 0; i < 30; i++) m.arrival(1, i < 15 ? 10 : 500);
    const obs = await m.observe(30_000);
    assert.equal(obs.load.windowMs, 30_000);
    assert.equal(obs.load.classes[0]!.rps, 10);
    assert.equal(obs.load.classes[1]!.rps, 1);
    const sizes = obs.load.classes[1]!.sizes;
    assert.deepEqual([...sizes.sizes], [10, 500]);
    for (const w of sizes.weights) assert.ok(Math.abs(w - 0.5) < 1e-12);
    const next = await m.observe(60_000);
    assert.equal(next.load.classes[0]!.rps, 0, 'a new window starts at each observation');
  });

  it('reports the latency of requests that finished in the window', async () => {
    const m = metrics();
    for (let i = 1; i <= 100; i++) m.finished(0, i);
    const obs = await m.observe(10_000);
    const h = obs.load.classes[0]!.latency!;
    assert.equal(h.count, 100);
    assert.ok(Math.abs(h.quantile(0.99) - 99) < 0.1);
    assert.equal(obs.load.classes[1]!.latency!.count, 0);
  });

  it('reports busy slot-time over available slot-time per type', async () => {
    const m = metrics();
    m.slots(1, 2, 0); // two r5n.large slots from t = 0
    m.busy(1, 10_000);
    m.slots(1, -1, 5_000); // one leaves at 5 s
    const obs = await m.observe(10_000);
    // Available: 2 × 5 s + 1 × 5 s = 15 slot-seconds; busy 10.
    assert.ok(Math.abs(obs.utilization!['r5n.large']! - 10 / 15) < 1e-9);
    assert.equal(obs.utilization!['g4dn.xlarge'], undefined, 'no capacity, no utilization');
  });

  it('reports the prior load during a warm-up before any arrival', async () => {
    const m = new SimMetrics({
      classes,
      types: ['r5n.large'],
      rng: new Rng(1),
      startMs: -90_000,
      prior: { atMs: 0, windowMs: 60_000, classes: [{ name: 'a', rps: 42, sizes: { sizes: Float64Array.of(100), weights: Float64Array.of(1) } }] },
    });
    const obs = await m.observe(-60_000);
    assert.equal(obs.load.classes[0]!.rps, 42);
    assert.equal(obs.load.atMs, -60_000);
  });
});
