import assert from 'node:assert/strict';
import { simulateAttainment } from '../../bench/model-accuracy-lib.ts';
import type { Mix } from '../../src/core/types.ts';
import { buildModel } from '../../src/model/build.ts';
import { sharedQueueAttainment } from '../../src/model/shared-queue.ts';
import { kairosCandidates, rm2Class, rm2Load } from '../control/kairos-setup.ts';

const counts = (mix: Mix) => kairosCandidates.map((c) => mix[c.type] ?? 0);
const model = (rps: number) => buildModel(kairosCandidates, rm2Class, rm2Load(rps));
const shared = (mix: Mix, rps: number) => sharedQueueAttainment(model(rps), counts(mix))?.[0] ?? null;
const perPool = (mix: Mix, rps: number) => model(rps).predict(counts(mix)).classes[0]!.attainment;

describe('shared-queue attainment (late binding)', () => {
  it('is within a point of the simulator near saturation, where the per-pool model is far off', async function () {
    this.timeout(120_000);
    const points: Array<[Mix, number]> = [
      [{ 'g4dn.xlarge': 3, 'r5n.large': 6 }, 100],
      [{ 'g4dn.xlarge': 1, 'r5n.large': 13 }, 130],
    ];
    for (const [mix, rps] of points) {
      const sim = await simulateAttainment(mix, rps, 11, 600_000);
      const got = shared(mix, rps)!;
      assert.ok(Math.abs(got - sim) < 0.01, `${JSON.stringify(mix)} @ ${rps}: shared ${got}, simulated ${sim}`);
      assert.ok(sim - perPool(mix, rps) > 0.1, `the per-pool model is the pessimistic one here (${perPool(mix, rps)})`);
    }
  });

  it('counts the sizes no pool of the mix serves within the SLO as misses', () => {
    // 16 × r5n: the largest 1.25% of Kairos' sizes take longer than 350 ms on r5n.large.
    const got = shared({ 'r5n.large': 16 }, 60)!;
    assert.ok(got < 0.99 && got > 0.98, String(got));
  });

  it('falls as the load rises and is null for a mix overloaded even with the best split', () => {
    const mix = { 'g4dn.xlarge': 1, 'r5n.large': 13 };
    const at = [100, 120, 135, 140].map((r) => shared(mix, r)!);
    for (let i = 1; i < at.length; i++) assert.ok(at[i]! < at[i - 1]!, at.join(' '));
    assert.equal(shared({ 'g4dn.xlarge': 4 }, 100), null);
    assert.equal(shared({}, 10), null);
  });
});
