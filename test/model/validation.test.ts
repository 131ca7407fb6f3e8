import assert from 'node:assert/strict';
import { accuracyPoints, describePoint, simulatePoint, type AccuracyResult } from '../../bench/model-accuracy-lib.ts';

/*
 * The model against the simulator: 24 random (mix, load) points on Kairos' types, busiest pool
 * 30–85% utilized, each simulated for 10 minutes with the default router. Early rejection is
 * switched off: it is admission control, which the model does not predict (rejected requests
 * would simply vanish from the simulated percentiles).
 */
describe('performance model vs the simulator', () => {
  it('predicts p99 within 25% of the simulated p99 on at least 20 of 24 random points below 85% utilization', async function () {
    this.timeout(120_000);
    const results: AccuracyResult[] = [];
    for (const [i, p] of accuracyPoints(24, 7).entries()) results.push(await simulatePoint(p, 100 + i, 600_000, { rejectLate: false }));
    const within = results.filter((r) => Math.abs(r.p99Error) <= 0.25);
    const misses = results.filter((r) => Math.abs(r.p99Error) > 0.25).map(describePoint);
    assert.ok(within.length >= 20, `${within.length}/24 within 25%:\n${misses.join('\n')}`);
    const sorted = results.map((r) => Math.abs(r.p99Error)).sort((a, b) => a - b);
    assert.ok(sorted[12]! < 0.1, `median |error| ${sorted[12]}`);
    assert.ok(results.every((r) => r.predictedUtilization < 0.85 + 1e-6));
  });
});
