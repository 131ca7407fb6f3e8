import assert from 'node:assert/strict';
import { runCli } from '../../support/cli.ts';

const CONFIG = 'sim/scenarios/default.yaml';

describe('mixscale plan', () => {
  it('prints the chosen mix, its $/h, predicted percentiles, the highest load within SLO and the runners-up', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '80']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Best mix: .*×r5n\.large.*\(\$\d\.\d\d\/h; exact search/);
    assert.match(r.stdout, /rm2\s+350ms\s+\d+ms\s+\d+ms/);
    assert.match(r.stdout, /Highest load this budget holds within SLO: \d+\.\d rps/);
    assert.match(r.stdout, /Runners-up:/);
  });

  it('answers in JSON with maxRpsWithinSlo and runners-up, and more budget holds more load', () => {
    const at = (budget: string) => {
      const r = runCli(['plan', '--config', CONFIG, '--rps', '40', '--budget', budget, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { budgetUsdPerHour: number; maxRpsWithinSlo: number; plan: { usdPerHour: number; mix: Record<string, number> }; runnersUp: unknown[] };
    };
    const small = at('2.5');
    const big = at('4');
    assert.ok(small.plan.usdPerHour <= 2.5);
    assert.ok(small.runnersUp.length > 0);
    assert.ok(big.maxRpsWithinSlo > 1.3 * small.maxRpsWithinSlo, `${small.maxRpsWithinSlo} → ${big.maxRpsWithinSlo}`);
  });

  it('sweeps budgets into a budget → p99 and max-load curve', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '30', '--budget-sweep', '1:2:0.5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sweep = (JSON.parse(r.stdout) as { sweep: Array<{ budgetUsdPerHour: number; maxRpsWithinSlo: number }> }).sweep;
    assert.deepEqual(sweep.map((s) => s.budgetUsdPerHour), [1, 1.5, 2]);
    assert.ok(sweep[2]!.maxRpsWithinSlo > sweep[0]!.maxRpsWithinSlo);
  });

  it('exits 2 with one line naming the flag on a bad size distribution or a missing --rps', () => {
    const bad = runCli(['plan', '--config', CONFIG, '--rps', '10', '--size-dist', 'zipf:2']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mixscale: --size-dist: "zipf:2"/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const missing = runCli(['plan', '--config', CONFIG]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--rps/);
  });
});
