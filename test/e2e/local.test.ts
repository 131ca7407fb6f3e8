import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RealClock } from '../../src/core/clock.ts';
import { PayloadBuilder } from '../../src/load/payload.ts';
import { replayTrace } from '../../src/load/replay.ts';
import { assertAnswered, assertWithinBudget, startLocalSystem, systemYaml, type LocalSystem } from '../support/local-system.ts';

const BUDGET = 1.5;

/**
 * The whole system on one machine: router, controller with the local provider (which
 * launches `mixscale node emulated` processes as instances), and the load generator
 * replaying a trace whose rate rises and falls. Kept short for CI; docs/nodes.md has the
 * long walkthrough.
 */
describe('local end-to-end: router + controller (local provider) + emulated nodes + load', function () {
  this.timeout(150_000);
  let sys: LocalSystem | undefined;

  before(async () => {
    sys = await startLocalSystem(
      (routerUrl, port) => `budget: { usdPerHour: ${BUDGET} }
classes:
  - { name: rm2, model: rm2, slo: 350ms, sloQuantile: 0.99 }
pools:
  - { name: gpu, type: g4dn.xlarge, bootTime: 2s, maxCount: 2 }
  - { name: r5n, type: r5n.large, bootTime: 2s, minCount: 2, maxCount: 8 }
scaling: { policy: target-tracking, interval: 2s, options: { targetUtilization: 0.5, stabilizationWindow: 4000 } }
${systemYaml(routerUrl, port, 'e2e', '{ bootDelay: 1s }')}`,
      { cluster: 'e2e', readyProbe: '/v2/models/rm2/infer' },
    );
  });

  after(async () => {
    await sys?.stop();
  });

  it('answers every request while the fleet changes with the load, never spending over the budget', async () => {
    const { dir, routerUrl, ticks } = sys!;
    const trace = join(dir, 'trace.csv');
    // Requests per second rising from 2 to 25 and falling back, 8 s per step.
    writeFileSync(trace, 't_s,rps\n0,2\n8,10\n16,25\n24,10\n32,2\n40,2\n');
    const failedAt: string[] = [];
    const report = await replayTrace(
      {
        trace: { path: trace, durationMs: 40_000, sizes: { kind: 'kairos' }, seed: 5 },
        target: routerUrl,
        model: 'rm2',
        payload: new PayloadBuilder({ kind: 'size', parameters: {} }),
        seed: 5,
        onResponse: (r) => {
          if (r.status !== 200) failedAt.push(`${(r.intendedMs / 1000).toFixed(1)}s:${r.status}:${JSON.stringify(r.body).slice(0, 80)}`);
        },
      },
      new RealClock(),
    );
    await new Promise((r) => setTimeout(r, 4_000));

    assertAnswered(report, 'rm2');
    assert.ok(report.sent > 250, `sent ${report.sent}`);
    // The router turns some away (504 when no backend can meet the deadline) while the fleet
    // catches up with a rise; most succeed.
    assert.ok(report.ok / report.sent >= 0.75, `only ${report.ok} of ${report.sent} succeeded: ${JSON.stringify(report.failures)}; ${failedAt.slice(0, 8).join(' | ')}; mixes ${ticks.map((t) => JSON.stringify(t.mix)).join(' ')}`);

    // The fleet changed over time, and neither the plan nor the spend ever exceeded the budget.
    const mixes = ticks.map((t) => JSON.stringify(t.mix));
    const changes = mixes.filter((m, i) => i > 0 && m !== mixes[i - 1]).length;
    assert.ok(changes >= 2, `fleet mix over time: ${mixes.join(' → ')}`);
    const sizes = ticks.map((t) => Object.values(t.mix).reduce((a, b) => a + b, 0));
    assert.ok(Math.max(...sizes) > Math.min(...sizes), `fleet size over time: ${sizes.join(', ')}`);
    // The load report shows the fleet behind the router following the load.
    const fleetSizes = report.fleet.map((f) => Object.values(f.mix).reduce((a, b) => a + b, 0));
    assert.ok(fleetSizes.length >= 3 && Math.max(...fleetSizes) > fleetSizes[0]!, `fleet seen by the load report: ${JSON.stringify(report.fleet)}`);
    assertWithinBudget(ticks, BUDGET);
  });
});
