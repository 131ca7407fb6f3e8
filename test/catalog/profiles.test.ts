import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('ServiceProfiles.load on a bad profile CSV', () => {
  const HEADER = 'instance,model,batch,n,mean_ms,scv,q0,q1,q5,q10,q25,q50,q75,q90,q95,q99,q100';
  const GOOD = 'r5n.large,m,100,50,10,0.1,5,6,7,8,9,10,11,12,13,14,15';
  const load = (rows: string[]): ServiceProfiles => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-profiles-'));
    const path = join(dir, 'p.csv');
    writeFileSync(path, [HEADER, ...rows, ''].join('\n'));
    return ServiceProfiles.load(path);
  };

  it('loads a good row', () => {
    assert.equal(load([GOOD]).table('r5n.large', 'm').meanMs(100), 10);
  });

  it('names the line and the column at fault', () => {
    const cases: Array<[string[], RegExp]> = [
      [[GOOD.replace(',10,0.1,', ',ten,0.1,')], /p\.csv:2: mean_ms: expected a non-negative number, got "ten"/],
      [[GOOD.replace(',0.1,', ',-1,')], /p\.csv:2: scv: expected a non-negative number, got "-1"/],
      [[GOOD + ',16'], /p\.csv:2: expected 17 fields .* got 18/],
      [[GOOD.replace(',12,13,', ',13,12,')], /p\.csv:2: q95: 12 is below q90 \(13\); quantiles must not decrease/],
      [[GOOD.replace('m,100,', 'm,0,')], /p\.csv:2: batch: expected a size above 0/],
      [[GOOD.replace(',10,0.1,', ',0,0.1,')], /p\.csv:2: mean_ms: expected a service time above 0, got 0/],
      [[GOOD.replace('r5n.large,m,', 'r5n.large,,')], /p\.csv:2: instance and model: expected names, got "r5n\.large" and ""/],
      [[GOOD, GOOD], /p\.csv:3: r5n\.large m batch 100 is measured twice/],
    ];
    for (const [rows, message] of cases) assert.throws(() => load(rows), (e: unknown) => e instanceof MixscaleError && message.test(e.message), String(message));
  });
});
