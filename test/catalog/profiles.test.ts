import assert from 'node:assert/strict';
import { ServiceProfiles } from '../../src/catalog/profiles.ts';
import { MixscaleError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';

describe('ServiceProfiles (bundled Kairos measurements)', () => {
  const profiles = ServiceProfiles.load();

  it('covers four types × five models over sizes 10..1000', () => {
    assert.deepEqual(profiles.types(), ['c5n.2xlarge', 'g4dn.xlarge', 'r5n.large', 't3.xlarge']);
    assert.deepEqual(profiles.models(), ['dien', 'mtwnd', 'ncf', 'rm2', 'wnd']);
    for (const c of profiles.coverage('g4dn.xlarge')) assert.deepEqual([c.minSize, c.maxSize, c.points], [10, 1000, 100]);
  });

  it("returns the measured statistics at a measured size (Kairos' summary: rm2 on r5n.large at 610)", () => {
    const t = profiles.table('r5n.large', 'rm2');
    assert.ok(Math.abs(t.meanMs(610) - 249.614) < 0.01);
    assert.ok(Math.abs(t.quantileMs(610, 0.5) - 249.083) < 0.001);
    assert.ok(Math.abs(t.quantileMs(610, 0.99) - 262.961) < 0.001);
  });

  it('interpolates linearly between measured sizes', () => {
    const t = profiles.table('g4dn.xlarge', 'rm2');
    const mid = t.meanMs(115);
    assert.ok(Math.abs(mid - (t.meanMs(110) + t.meanMs(120)) / 2) < 1e-9);
    assert.ok(t.meanMs(110) < mid && mid < t.meanMs(120));
  });

  it('serves sizes below the smallest batch as that batch, and refuses sizes beyond the data', () => {
    const t = profiles.table('g4dn.xlarge', 'rm2');
    assert.equal(t.meanMs(3), t.meanMs(10));
    assert.throws(() => t.meanMs(1001), (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_PROFILE_GAP' && /10\.\.1000/.test(e.message));
  });

  it('reports a missing (type, model) as a coverage gap naming what exists', () => {
    assert.throws(() => profiles.table('p4d.24xlarge', 'rm2'), /profiled types: c5n\.2xlarge, g4dn\.xlarge/);
    assert.throws(() => profiles.table('g4dn.xlarge', 'bert'), /profiled models there: dien/);
  });

  it('samples service times whose mean and p99 match the measured ones', () => {
    const t = profiles.table('r5n.large', 'rm2');
    const rng = new Rng(11);
    const xs = Array.from({ length: 40_000 }, () => t.sample(610, rng)).sort((a, b) => a - b);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(Math.abs(m - t.meanMs(610)) / t.meanMs(610) < 0.005, `mean ${m}`);
    assert.ok(Math.abs(xs[Math.floor(0.99 * xs.length)]! - 262.961) < 1.5);
  });

  it('shows the fast-vs-frugal trade: the GPU is faster per request, the CPU cheaper per request-second', () => {
    const g = profiles.table('g4dn.xlarge', 'rm2').meanMs(180);
    const r = profiles.table('r5n.large', 'rm2').meanMs(180);
    assert.ok(g < r);
    assert.ok((1000 / r) / 0.149 > (1000 / g) / 0.526);
  });
});
