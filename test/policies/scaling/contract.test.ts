import assert from 'node:assert/strict';
import { createScalingPolicy, scalingPolicyNames } from '../../../policies/scaling/index.ts';
import type { CandidateType, ScalingState } from '../../../src/control/types.ts';
import { mixCost, type Instance, type Mix } from '../../../src/core/types.ts';
import { kairosCandidate, kairosCandidates } from '../../control/kairos-setup.ts';
import { kairosState } from './state.ts';

/**
 * One suite, every scaling policy in the registry: whatever a policy does to choose a mix, the
 * reconciler and the simulator rely on these promises. Policies that need options get a
 * fixed mix that does not fit every budget below, so trimming is exercised too.
 */
const OPTIONS: Record<string, Record<string, unknown>> = {
  'static-mix': { mix: { 'g4dn.xlarge': 2, 'r5n.large': 13 } },
  'oracle-static': { mix: { 'g4dn.xlarge': 2, 'r5n.large': 13 } },
};

function running(type: string, n: number, state: Instance['state'] = 'running'): Instance[] {
  const usd = kairosCandidates.find((c) => c.type === type)!.usdPerHour;
  return Array.from({ length: n }, (_, i) => ({ id: `${type}-${state}-${i}`, type, pool: type, state, launchedAtMs: 0, usdPerHour: usd }));
}

/** The situations every policy is asked about: loads from idle to overload, tight and loose budgets, cooldowns and bounds. */
function situations(): Array<{ what: string; state: ScalingState }> {
  const bounded: CandidateType[] = [
    kairosCandidate('g4dn.xlarge', 0.526, 2, { minCount: 1 }),
    kairosCandidate('c5n.2xlarge', 0.432, 6),
    kairosCandidate('r5n.large', 0.149, 5),
    kairosCandidate('t3.xlarge', 0.1664, 15),
  ];
  const cooled = kairosCandidates.map((c) => (c.type === 'r5n.large' ? { ...c, available: false } : c));
  const out: Array<{ what: string; state: ScalingState }> = [];
  for (const rps of [0, 5, 60, 130, 400]) out.push({ what: `${rps} rps at $2.5/h`, state: kairosState(rps) });
  out.push({ what: '60 rps at $0.6/h', state: kairosState(60, 0, [], 0.6) });
  out.push({ what: '60 rps at $25/h', state: kairosState(60, 0, [], 25) });
  out.push({ what: 'minCount 1 and maxCount 2 / 5', state: { ...kairosState(100), candidates: bounded } });
  out.push({ what: 'r5n.large in capacity cooldown with 3 running', state: { ...kairosState(100, 0, running('r5n.large', 3)), candidates: cooled } });
  out.push({ what: 'a fleet that is running and draining', state: kairosState(60, 0, [...running('g4dn.xlarge', 2), ...running('r5n.large', 4, 'draining')]) });
  return out;
}

describe('scaling policy contract', () => {
  it('refuses a name that is not a policy, object property names included (constructor, __proto__, toString)', () => {
    for (const name of ['nope', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.throws(() => createScalingPolicy(name), (e: unknown) => e instanceof Error && e.message.startsWith(`unknown scaling policy "${name}"`), name);
    }
  });

  for (const name of scalingPolicyNames()) {
    describe(name, () => {
      for (const { what, state } of situations()) {
        it(`${what}: a mix of candidate types within the budget, their bounds and cooldowns, with a reason`, () => {
          const d = createScalingPolicy(name, OPTIONS[name] ?? {}).decide(state);
          const byType = new Map(state.candidates.map((c) => [c.type, c]));
          for (const [type, n] of Object.entries(d.mix)) {
            const c = byType.get(type);
            assert.ok(c !== undefined, `${type} is not a candidate`);
            assert.ok(Number.isInteger(n) && n >= 0, `${type}: ${n}`);
            assert.ok(n <= c.maxCount, `${type}: ${n} > maxCount ${c.maxCount}`);
            if (!c.available) {
              const have = state.fleet.filter((i) => i.type === type && i.state !== 'draining').length;
              assert.ok(n <= have, `${type} is in cooldown: ${n} > the ${have} it has`);
            }
          }
          assert.ok(mixCost(d.mix, (t) => byType.get(t)!.usdPerHour) <= state.budgetUsdPerHour + 1e-9, `${JSON.stringify(d.mix)} costs more than $${state.budgetUsdPerHour}/h`);
          assert.ok(d.reason.length > 0);
        });
      }

      it('names an option it does not take', () => {
        assert.throws(() => createScalingPolicy(name, { ...(OPTIONS[name] ?? {}), headroomm: 0.1 }), (e: unknown) => e instanceof Error && e.message.startsWith(`scaling.options.headroomm: not an option of ${name}`));
      });

      it('decides the same for the same state (a fresh policy each time)', () => {
        for (const { state } of situations()) {
          const a: Mix = createScalingPolicy(name, OPTIONS[name] ?? {}).decide(state).mix;
          const b: Mix = createScalingPolicy(name, OPTIONS[name] ?? {}).decide(state).mix;
          assert.deepEqual(a, b);
        }
      });

      it('keeps minCount when the budget pays for it', () => {
        const candidates = kairosCandidates.map((c) => (c.type === 'g4dn.xlarge' ? { ...c, minCount: 1 } : c.type === 't3.xlarge' ? { ...c, minCount: 2 } : c));
        const d = createScalingPolicy(name, OPTIONS[name] ?? {}).decide({ ...kairosState(60), candidates });
        assert.ok((d.mix['g4dn.xlarge'] ?? 0) >= 1 && (d.mix['t3.xlarge'] ?? 0) >= 2, JSON.stringify(d.mix));
      });
    });
  }
});
