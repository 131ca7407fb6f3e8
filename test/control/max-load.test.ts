import assert from 'node:assert/strict';
import { maxRpsWithinSlo, scaleLoad } from '../../src/control/max-load.ts';
import { planMix } from '../../src/control/planner.ts';
import { kairosCandidates, rm2Class, rm2Load } from './kairos-setup.ts';

const input = (budgetUsdPerHour: number) => ({ budgetUsdPerHour, classes: rm2Class, candidates: kairosCandidates, load: rm2Load(50) });

describe('maxRpsWithinSlo', () => {
  it('finds the load where the best mix stops meeting the SLO, to about 1%', () => {
    const perPool = { ...input(2.5), options: { sharedQueue: false } };
    const { rps, plan } = maxRpsWithinSlo(perPool);
    assert.ok(plan !== null && plan.score <= 1 && plan.meetsSlo);
    const beyond = planMix({ ...perPool, load: scaleLoad(rm2Load(50), (rps * 1.03) / 50) });
    assert.ok(beyond.score > 1 && !beyond.meetsSlo, `at ${rps * 1.03} rps the score is ${beyond.score}`);
  });

  it("counts the shared queue's second opinion for a late-binding router (the default)", () => {
    const perPool = maxRpsWithinSlo({ ...input(2.5), options: { sharedQueue: false } }).rps;
    const { rps, plan } = maxRpsWithinSlo(input(2.5));
    assert.ok(rps > perPool * 1.15, `${rps} vs ${perPool}`);
    assert.ok(plan !== null && plan.meetsSlo && plan.score > 1 && plan.sharedQueue !== undefined);
    assert.ok(plan.sharedQueue['rm2']! >= 0.99);
    assert.match(plan.reason, /SLO met only with late binding's shared queue/);
    const beyond = planMix({ ...input(2.5), load: scaleLoad(rm2Load(50), (rps * 1.03) / 50) });
    assert.equal(beyond.meetsSlo, false);
  });

  it('gives the same answer however far above (or below) what the budget holds the load given is', () => {
    const from = (rps: number) => maxRpsWithinSlo({ ...input(2.5), load: rm2Load(rps), options: { sharedQueue: false } }).rps;
    const near = from(50);
    assert.ok(near > 50, `${near}`);
    for (const rps of [3, 100_000, 200_000, 5e6]) assert.equal(from(rps), near, `from ${rps} rps`);
    // Two budgets of a sweep at a load far above both: each holds its own load, the larger more.
    const small = maxRpsWithinSlo({ ...input(2), load: rm2Load(200_000) }).rps;
    assert.ok(small > 0 && maxRpsWithinSlo({ ...input(3), load: rm2Load(200_000) }).rps > small);
  });

  it('holds more load with more budget', () => {
    assert.ok(maxRpsWithinSlo(input(4)).rps > maxRpsWithinSlo(input(2)).rps * 1.5);
  });

  it('scales every class by the same factor and keeps its sizes', () => {
    const base = rm2Load(10);
    const l = scaleLoad(base, 3);
    assert.equal(l.classes[0]!.rps, 30);
    assert.equal(l.classes[0]!.sizes, base.classes[0]!.sizes);
  });
});
