import assert from 'node:assert/strict';
import { ProfileTable, ServiceProfiles } from '../../src/catalog/profiles.ts';
import { loadConfigObject, type LoadedConfig } from '../../src/config/load.ts';
import { runSimulation } from '../../sim/runner.ts';

/** Test-only profile: exponential service with the given mean, exactly, by inverse CDF. */
class ExponentialProfile extends ProfileTable {
  constructor(type: string, model: string, private readonly mean: number) {
    super(type, model, [{ size: 1000, meanMs: mean, scv: 1, knots: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }]);
  }
  override meanMs(): number {
    return this.mean;
  }
  override quantileMs(_size: number, q: number): number {
    return -this.mean * Math.log(1 - q);
  }
}

/** Erlang's C formula: the M/M/c mean wait in queue (ms). */
function erlangCWaitMs(lambdaPerMs: number, meanServiceMs: number, c: number): number {
  const a = lambdaPerMs * meanServiceMs;
  const rho = a / c;
  let sum = 0;
  let term = 1;
  for (let k = 0; k < c; k++) {
    sum += term;
    term *= a / (k + 1);
  }
  const top = term / (1 - rho);
  const pWait = top / (sum + top);
  return (pWait * meanServiceMs) / (c * (1 - rho));
}

function mmc(c: number, meanServiceMs: number): LoadedConfig {
  const base = loadConfigObject({
    budget: { usdPerHour: 2.5 },
    classes: [{ name: 'q', model: 'rm2', slo: '10s' }],
    // One instance with c slots: one FIFO queue in front of c servers, which is M/M/c.
    pools: [{ name: 'p', type: 'r5n.large', slots: c }],
    scaling: { policy: 'static-mix', options: { mix: { 'r5n.large': 1 } } },
    routing: { policy: 'least-outstanding' },
    sim: { maxOutstandingPerSlot: 100_000, window: '10m' },
  });
  return { ...base, profiles: new ServiceProfiles([new ExponentialProfile('r5n.large', 'rm2', meanServiceMs)]) };
}

describe('simulated queueing against theory', () => {
  it('matches the Erlang-C mean wait of M/M/4 at 70% load within 5%', async () => {
    const c = 4;
    const meanMs = 100;
    const rps = 28; // ρ = 28 × 0.1 / 4 = 0.7
    const run = await runSimulation(mmc(c, meanMs), {
      seed: 11,
      arrivals: { kind: 'poisson', rps, durationMs: 15_000_000, sizes: { kind: 'fixed', size: 100 } },
    });
    assert.equal(run.requests.dropped, 0);
    const waitMs = run.latencyMs.mean - meanMs;
    const theory = erlangCWaitMs(rps / 1000, meanMs, c);
    assert.ok(Math.abs(waitMs - theory) / theory < 0.05, `simulated wait ${waitMs.toFixed(2)} ms vs Erlang-C ${theory.toFixed(2)} ms`);
  });

  it('matches M/M/1 (mean time in system 1/(μ-λ)) within 5%', async () => {
    const run = await runSimulation(mmc(1, 50), {
      seed: 12,
      arrivals: { kind: 'poisson', rps: 10, durationMs: 10_000_000, sizes: { kind: 'fixed', size: 100 } },
    });
    const theory = 1000 / (20 - 10);
    assert.ok(Math.abs(run.latencyMs.mean - theory) / theory < 0.05, `simulated ${run.latencyMs.mean.toFixed(2)} ms vs ${theory} ms`);
  });
});
