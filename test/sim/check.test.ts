import assert from 'node:assert/strict';
import { loadConfigFile, loadConfigObject } from '../../src/config/load.ts';
import { bestChecked, checkMixes, type MixCheck } from '../../sim/check.ts';
import { kairosConfig, rm2Class } from '../control/kairos-setup.ts';

const loaded = loadConfigObject({ ...kairosConfig, sim: { sizes: { kind: 'kairos' } } });
const MINUTE = 60_000;
const rm2 = (p99Ms: number, attainment: number): MixCheck['perClass'] => ({ rm2: { p50Ms: p99Ms / 4, p99Ms, attainment, completed: 1000, dropped: 0 } });

describe('checkMixes (plan --check)', () => {
  it('runs each mix on the same arrivals: the same mix twice gives the same figures', async () => {
    const mix = { 'g4dn.xlarge': 2, 'r5n.large': 9 };
    const [a, b] = await checkMixes(loaded, [mix, mix], { rps: 60, sizes: { kind: 'kairos' }, durationMs: 2 * MINUTE, budgetUsdPerHour: 2.5 });
    assert.deepEqual(a!.perClass, b!.perClass);
    assert.ok(a!.perClass['rm2']!.p99Ms > 0);
  });

  it('boots the fleet before the first arrival, whatever capacity errors the config simulates: at low load nothing is dropped', async () => {
    const flaky = loadConfigObject({ ...kairosConfig, sim: { sizes: { kind: 'kairos' }, capacityErrorRate: 0.9 } });
    for (const config of [loaded, flaky]) {
      const [c] = await checkMixes(config, [{ 'g4dn.xlarge': 4 }], { rps: 10, sizes: { kind: 'kairos' }, durationMs: 2 * MINUTE, budgetUsdPerHour: 2.5 });
      assert.equal(c!.perClass['rm2']!.dropped, 0);
      assert.equal(c!.perClass['rm2']!.attainment, 1);
    }
  });

  it('tells mixes apart: all-fast has the lower tail at 10 rps, Kairos mix keeps more within SLO at 120 rps', async () => {
    const fast = { 'g4dn.xlarge': 4 };
    const kairos = { 'g4dn.xlarge': 1, 'r5n.large': 13 };
    const cheap = { 'r5n.large': 16 };
    const low = await checkMixes(loaded, [fast, cheap], { rps: 10, sizes: { kind: 'kairos' }, durationMs: 3 * MINUTE, budgetUsdPerHour: 2.5 });
    assert.ok(low[0]!.perClass['rm2']!.p99Ms < low[1]!.perClass['rm2']!.p99Ms, JSON.stringify(low));
    const high = await checkMixes(loaded, [fast, kairos], { rps: 120, sizes: { kind: 'kairos' }, durationMs: 2 * MINUTE, budgetUsdPerHour: 2.5 });
    assert.ok(high[1]!.perClass['rm2']!.attainment > high[0]!.perClass['rm2']!.attainment + 0.1, JSON.stringify(high));
  });

  it('gives the fleet: a launch slower than controller.launchTimeout is not relaunched while requests wait', async () => {
    const mix = { 'g4dn.xlarge': 2, 'r5n.large': 9 };
    const opts = { rps: 80, sizes: { kind: 'kairos' } as const, durationMs: 2 * MINUTE, budgetUsdPerHour: 2.5 };
    const [given] = await checkMixes(loaded, [mix], opts);
    const [hasty] = await checkMixes(loadConfigObject({ ...kairosConfig, sim: { sizes: { kind: 'kairos' } }, controller: { launchTimeout: '1m' } }), [mix], opts);
    assert.deepEqual(hasty!.perClass, given!.perClass);
  });

  it('gives the fleet without a controller section too: a boot longer than the default 10 min launch timeout still serves', async () => {
    // 15 min to boot, no controller section: the launch timeout would be the controller's default, 10 min.
    const slow = loadConfigObject({ ...kairosConfig, pools: [{ name: 'r5n', type: 'r5n.large', bootTime: '15m' }], sim: { sizes: { kind: 'fixed', size: 100 } } });
    const [c] = await checkMixes(slow, [{ 'r5n.large': 2 }], { rps: 10, sizes: { kind: 'fixed', size: 100 }, durationMs: 2 * MINUTE, budgetUsdPerHour: 2.5 });
    assert.deepEqual([c!.perClass['rm2']!.dropped, c!.perClass['rm2']!.attainment], [0, 1], JSON.stringify(c));
  });

  it('reports no tail for a class nothing served, and its drops', async () => {
    // Kairos' sizes are all above the digits CNN's largest profiled size (8): its class is unserved.
    const mixed = loadConfigFile('examples/mixed.yaml');
    const [c] = await checkMixes(mixed, [{ 'g4dn.xlarge': 1, 'r5n.large': 4, 't3.xlarge': 1 }], { rps: 20, sizes: { kind: 'kairos' }, durationMs: 2 * MINUTE, budgetUsdPerHour: 1.5 });
    const digits = c!.perClass['digits']!;
    assert.equal(digits.completed, 0);
    assert.ok(Number.isNaN(digits.p99Ms));
    assert.ok(digits.dropped > 0 && digits.attainment === 0, JSON.stringify(digits));
    assert.ok(c!.perClass['rec']!.completed > 0);
  });

  it('trims a mix to the budget it is checked at, as static-mix does', async () => {
    const [c] = await checkMixes(loaded, [{ 'g4dn.xlarge': 4 }], { rps: 40, sizes: { kind: 'kairos' }, durationMs: 2 * MINUTE, budgetUsdPerHour: 0.6 });
    const [full] = await checkMixes(loaded, [{ 'g4dn.xlarge': 4 }], { rps: 40, sizes: { kind: 'kairos' }, durationMs: 2 * MINUTE, budgetUsdPerHour: 2.5 });
    assert.ok(c!.perClass['rm2']!.attainment < full!.perClass['rm2']!.attainment, `one g4dn at 40 rps: ${JSON.stringify(c)}`);
  });
});

describe('bestChecked', () => {
  const a = { mix: { a: 1 }, perClass: rm2(300, 0.995) };
  const b = { mix: { b: 1 }, perClass: rm2(250, 0.999) };
  const c = { mix: { c: 1 }, perClass: rm2(200, 0.98) };
  const d = { mix: { d: 1 }, perClass: rm2(400, 0.985) };

  it('ranks mixes meeting the SLO by their tail, before any that misses it', () => {
    assert.equal(bestChecked([a, c, b], rm2Class), b);
  });
  it('when none meets it, the one keeping the most within SLO', () => {
    assert.equal(bestChecked([c, d], rm2Class), d);
  });
  it('ranks a mix that served nothing of a class after one that served it', () => {
    const none = { mix: { n: 1 }, perClass: { rm2: { p50Ms: NaN, p99Ms: NaN, attainment: 0.995, completed: 0, dropped: 0 } } };
    assert.equal(bestChecked([none, a], rm2Class), a);
  });
  it('keeps the planner’s order on ties, and has no answer for nothing', () => {
    assert.equal(bestChecked([a, { ...a, mix: { e: 1 } }], rm2Class), a);
    assert.equal(bestChecked([], rm2Class), undefined);
  });
});
