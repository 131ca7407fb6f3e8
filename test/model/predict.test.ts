import assert from 'node:assert/strict';
import { ServiceProfiles } from '../../src/catalog/profiles.ts';
import type { CandidateType } from '../../src/control/types.ts';
import { Rng } from '../../src/core/rng.ts';
import { sizePmf } from '../../src/core/sizes.ts';
import { buildModel, coarsen } from '../../src/model/build.ts';

const profiles = ServiceProfiles.load();
const candidate = (type: string, fast: boolean, usdPerHour: number): CandidateType => ({
  pool: type, type, usdPerHour, fast, slots: 1, bootMs: 0, minCount: 0, maxCount: 100, available: true,
  profile: (m) => profiles.table(type, m),
});
const kairosTypes = [candidate('g4dn.xlarge', true, 0.526), candidate('r5n.large', false, 0.149)];
const rm2 = [{ name: 'rm2', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 }];
const kairosSizes = sizePmf({ kind: 'kairos' }, new Rng(1));
const modelAt = (rps: number) => buildModel(kairosTypes, rm2, { atMs: 0, windowMs: 60_000, classes: [{ name: 'rm2', rps, sizes: kairosSizes }] });

describe('performance model (Kairos rm2 on g4dn.xlarge + r5n.large)', () => {
  it('predicts a service-time-only latency for a lightly loaded single type', () => {
    const fixed = buildModel(kairosTypes, rm2, { atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps: 0.01, sizes: { sizes: Float64Array.of(110), weights: Float64Array.of(1) } }] });
    const p = fixed.predict([1, 0]).classes[0]!;
    assert.ok(Math.abs(p.p50Ms - profiles.table('g4dn.xlarge', 'rm2').meanMs(110)) < 0.5, `p50 ${p.p50Ms}`);
  });

  it('puts the share within the SLO in [0, 1], also for an SLO below every service time (it read -0.00%)', () => {
    for (const sloMs of [1, 350]) {
      const m = buildModel(kairosTypes, [{ ...rm2[0]!, sloMs }], { atMs: 0, windowMs: 60_000, classes: [{ name: 'rm2', rps: 5, sizes: kairosSizes }] });
      for (const counts of [[0, 13], [4, 0], [1, 6]]) {
        const a = m.predict(counts).classes[0]!.attainment;
        assert.ok(a >= 0 && a <= 1 && !Object.is(a, -0), `SLO ${sloMs} ms, ${counts.join('/')}: ${a}`);
      }
    }
  });

  it('predicts a lower p99 with more instances of the same type', () => {
    const m = modelAt(30);
    assert.ok(m.predict([3, 0]).classes[0]!.p99Ms > m.predict([5, 0]).classes[0]!.p99Ms);
  });

  it('prefers all-fast at low load and the frugal-heavy mix at high load (the swing emerges from the data)', () => {
    const low = modelAt(10);
    assert.ok(low.predict([4, 0]).score < low.predict([1, 13]).score);
    const high = modelAt(110);
    assert.equal(high.predict([4, 0]).score, Infinity);
    assert.ok(Number.isFinite(high.predict([1, 13]).score));
  });

  it('reports utilization ≥ 1 and infinite latency for an overloaded mix', () => {
    const p = modelAt(200).predict([1, 1]);
    assert.ok(p.maxUtilization >= 1);
    assert.equal(p.classes[0]!.p99Ms, Infinity);
  });

  it('splits every class completely across the mix, sending the largest requests to the fast type only', () => {
    const p = modelAt(60).predict([1, 13]);
    const split = p.split[0]!;
    const total = Object.values(split).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - 1) < 1e-9);
    assert.ok((split['g4dn.xlarge'] ?? 0) > 0.01);
  });

  it('sends requests too slow for the frugal type to the fast type only, and to the frugal type when the mix has no fast one', () => {
    // rm2 at size 1000 takes longer than the 350 ms SLO on r5n.large, size 100 does not.
    assert.ok(profiles.table('r5n.large', 'rm2').meanMs(1000) > 350 && profiles.table('r5n.large', 'rm2').meanMs(100) < 350);
    const two = buildModel(kairosTypes, rm2, { atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps: 5, sizes: { sizes: Float64Array.of(100, 1000), weights: Float64Array.of(0.5, 0.5) } }] });
    const mixed = two.predict([1, 13]);
    assert.ok((mixed.split[0]!['g4dn.xlarge'] ?? 0) >= 0.5 - 1e-9, `g4dn share ${mixed.split[0]!['g4dn.xlarge']}`);
    const cpuOnly = two.predict([0, 2]);
    assert.ok(Math.abs((cpuOnly.split[0]!['r5n.large'] ?? 0) - 1) < 1e-9, 'an all-frugal mix still serves the large sizes');
    assert.ok(Math.abs(cpuOnly.pools[0]!.rps - 5) < 1e-9);
  });

  it('adds the queueing wait to the mean latency', () => {
    const at = (rps: number) => buildModel(kairosTypes, rm2, { atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps, sizes: kairosSizes }] }).predict([0, 10]);
    // One type: the split cannot change, so only the wait can raise the mean (10 r5n at 85 rps: about 90% busy).
    assert.ok(at(85).maxUtilization > 0.8);
    assert.ok(at(85).meanScore > at(5).meanScore * 1.1, `${at(85).meanScore} vs ${at(5).meanScore}`);
  });

  it('leaves a class with no traffic out of the score', () => {
    const tight = { name: 'idle', model: 'rm2', sloMs: 5, sloQuantile: 0.99, share: 0 };
    const load = (idleRps: number) => ({ atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps: 30, sizes: kairosSizes }, { name: 'idle', rps: idleRps, sizes: kairosSizes }] });
    const alone = modelAt(30).predict([2, 6]).score;
    assert.ok(Math.abs(buildModel(kairosTypes, [...rm2, tight], load(0)).predict([2, 6]).score - alone) < 1e-9);
    assert.ok(buildModel(kairosTypes, [...rm2, tight], load(1)).predict([2, 6]).score > 1, 'with traffic, the 5 ms SLO counts');
  });

  it('never says a mix meets the SLO while some sizes have no type to serve them, however few', () => {
    const rare = buildModel(kairosTypes, rm2, { atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps: 1, sizes: { sizes: Float64Array.of(100, 5000), weights: Float64Array.of(0.998, 0.002) } }] });
    const p = rare.predict([2, 0]);
    assert.ok(p.classes[0]!.p99Ms < 350, `p99 of what is served: ${p.classes[0]!.p99Ms}`);
    assert.ok(p.score > 1, `score ${p.score}`);
  });

  it('counts sizes no type can serve against attainment', () => {
    const huge = buildModel(kairosTypes, rm2, { atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps: 1, sizes: { sizes: Float64Array.of(100, 5000), weights: Float64Array.of(0.5, 0.5) } }] });
    const p = huge.predict([2, 0]).classes[0]!;
    assert.ok(p.attainment <= 0.5 + 1e-9);
  });

  it('coarsens a size pmf to the requested bins, keeping its mass and mean', () => {
    const c = coarsen(kairosSizes, 16);
    assert.ok(c.sizes.length <= 18);
    const mass = c.weights.reduce((a, b) => a + b, 0);
    const mean = (p: typeof c) => p.sizes.reduce((a, s, i) => a + s * p.weights[i]!, 0);
    assert.ok(Math.abs(mass - 1) < 1e-9);
    assert.ok(Math.abs(mean(c) - mean(kairosSizes)) < 1e-6);
    assert.equal(c.sizes[c.sizes.length - 1], kairosSizes.sizes[kairosSizes.sizes.length - 1]);
  });
});
