import assert from 'node:assert/strict';
import { runSimulation } from '../../sim/runner.ts';
import { twoModelConfig } from '../routing/two-models.ts';

/**
 * A fleet of two models: GPU nodes serve rm2, edge boxes the digits CNN. The simulator routes
 * each class only to the pools serving its model, and the planner buys both pools.
 */
describe('simulation with pools that serve different models', () => {
  const sim = { rps: 40, duration: '5m', sizes: { kind: 'fixed', size: 1 }, warmStart: true };

  for (const lateBinding of [false, true]) {
    it(`serves each class only on the pools serving its model (${lateBinding ? 'late binding' : 'binding at arrival'})`, async () => {
      const loaded = twoModelConfig(
        { policy: 'heterogeneity-aware', lateBinding },
        { scaling: { policy: 'static-mix', options: { mix: { 'g4dn.xlarge': 1, 't3.xlarge': 2 } } }, sim },
      );
      const run = await runSimulation(loaded);
      const rec = run.perClass.rec!;
      const digits = run.perClass.digits!;
      assert.ok(rec.requests.total > 4000 && digits.requests.total > 4000, `both classes arrive: ${rec.requests.total}, ${digits.requests.total}`);
      assert.equal(run.requests.dropped, 0, JSON.stringify(run.requests.dropReasons));
      // Each type completes exactly its model's requests.
      assert.equal(run.perType['g4dn.xlarge']!.completed, rec.requests.completed);
      assert.equal(run.perType['t3.xlarge']!.completed, digits.requests.completed);
    });
  }

  it('plans both pools with fast-frugal, and serves both classes within SLO', async () => {
    const loaded = twoModelConfig({ policy: 'heterogeneity-aware' }, { budget: { usdPerHour: 2 }, scaling: { policy: 'fast-frugal', interval: '30s' }, sim });
    const run = await runSimulation(loaded);
    const last = run.decisions.at(-1)!;
    assert.ok((last.mix['g4dn.xlarge'] ?? 0) > 0 && (last.mix['t3.xlarge'] ?? 0) > 0, `mix ${JSON.stringify(last.mix)}`);
    assert.ok(run.perClass.rec!.slo.attainment > 0.99, `rec ${run.perClass.rec!.slo.attainment}`);
    assert.ok(run.perClass.digits!.slo.attainment > 0.99, `digits ${run.perClass.digits!.slo.attainment}`);
    assert.equal(run.cost.overBudgetSeconds, 0);
  });
});
