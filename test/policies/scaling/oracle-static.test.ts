import assert from 'node:assert/strict';
import { createScalingPolicy } from '../../../policies/scaling/index.ts';
import { findOracleStatic, oracleCandidateMixes } from '../../../policies/scaling/oracle-static.ts';
import { formatMix, type Mix } from '../../../src/core/types.ts';
import { kairosCandidates, rm2Class, rm2Load } from '../../control/kairos-setup.ts';
import { kairosState } from './state.ts';

describe('oracle-static scaling policy', () => {
  it('proposes the model’s best mixes at peak and mean load plus the homogeneous fleets, without duplicates', () => {
    const mixes = oracleCandidateMixes(kairosCandidates, rm2Class, [rm2Load(100), rm2Load(40)], 2.5);
    const names = mixes.map(formatMix);
    assert.equal(new Set(names).size, names.length);
    assert.ok(names.includes('4×g4dn.xlarge'));
    assert.ok(names.includes('16×r5n.large'));
    assert.ok(mixes.length >= 5);
  });

  it('keeps the lowest p99 among mixes meeting the attainment target, else the best attainment', async () => {
    const outcomes: Record<string, { p99Ms: number; attainment: number }> = {
      '1×a': { p99Ms: 100, attainment: 0.98 },
      '1×b': { p99Ms: 300, attainment: 0.995 },
      '1×c': { p99Ms: 250, attainment: 0.992 },
    };
    const mixes: Mix[] = [{ a: 1 }, { b: 1 }, { c: 1 }];
    const sim = async (m: Mix) => outcomes[formatMix(m)]!;
    assert.deepEqual((await findOracleStatic(mixes, sim, 0.99)).mix, { c: 1 });
    assert.deepEqual((await findOracleStatic(mixes, sim, 0.999)).mix, { b: 1 });
  });

  it('runs the mix it was given, and says how to find one when it was not', () => {
    const p = createScalingPolicy('oracle-static', { mix: { 'g4dn.xlarge': 1, 'r5n.large': 13 } });
    assert.deepEqual(p.decide(kairosState(10)).mix, { 'g4dn.xlarge': 1, 'r5n.large': 13 });
    assert.throws(() => createScalingPolicy('oracle-static'), /bench\/oracle-static\.ts/);
  });
});
