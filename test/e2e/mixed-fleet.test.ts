import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealClock } from '../../src/core/clock.ts';
import { PayloadBuilder } from '../../src/load/payload.ts';
import { replayTrace } from '../../src/load/replay.ts';
import { assertAnswered, assertWithinBudget, startLocalSystem, systemYaml, type LocalSystem } from '../support/local-system.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));
const EDGE_PROFILE = fileURLToPath(new URL('../../models/digits-cnn/profile.csv', import.meta.url));
const BUDGET = 1.5;

/**
 * The product's whole picture on one machine: one router in front of GPU nodes (emulated,
 * serving rm2) and edge nodes (real multi-exit ONNX, serving the digits CNN), the controller's
 * fast-frugal planner buying both pools within one budget, and the load generator driving both
 * models while the recommendation load rises and falls.
 */
describe('local end-to-end with a mixed fleet: emulated GPU and CPU nodes for rm2, edge nodes for the digits CNN', function () {
  this.timeout(180_000);
  let sys: LocalSystem | undefined;

  before(async () => {
    // tailSlack 0 (the lowest predicted tail): before any load is seen every mix ties, and the
    // default's band would start the fleet on one of the roomiest mixes, hiding its growth with the load.
    sys = await startLocalSystem(
      (routerUrl, port) => `budget: { usdPerHour: ${BUDGET} }
profiles: [${JSON.stringify(EDGE_PROFILE)}]
classes:
  - { name: rec, model: rm2, slo: 350ms }
  - { name: digits, model: digits-cnn, slo: 200ms }
pools:
  - { name: gpu, type: g4dn.xlarge, models: [rm2], bootTime: 2s, maxCount: 2 }
  - { name: cpu, type: r5n.large, models: [rm2], bootTime: 2s, maxCount: 6 }
  - name: edge
    type: t3.xlarge
    models: [digits-cnn]
    bootTime: 3s
    minCount: 1
    maxCount: 2
    command: ${JSON.stringify([process.execPath, BIN, '--log-level', 'warn', 'node', 'edge', '--port', '0', '--warmup-runs', '10'])}
scaling: { policy: fast-frugal, interval: 2s, options: { scaleDownDelay: 10000, tailSlack: 0 } }
${systemYaml(routerUrl, port, 'mixed', '{ bootDelay: 1s }')}`,
      { cluster: 'mixed', readyProbe: '/v2/models/rm2/infer', readyTimeoutMs: 90_000 },
    );
    const until = Date.now() + 90_000;
    while ((await fetch(`${sys.routerUrl}/v2/models/digits-cnn/ready`).catch(() => undefined))?.status !== 200) {
      assert.ok(Date.now() < until, 'no edge node became ready behind the router');
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  after(async () => {
    await sys?.stop();
  });

  it('serves each model on its own nodes while the planner grows and shrinks the fleet within the budget', async () => {
    const { dir, routerUrl, ticks } = sys!;
    const recTrace = join(dir, 'rec.csv');
    const digitsTrace = join(dir, 'digits.csv');
    writeFileSync(recTrace, 't_s,rps\n0,2\n8,10\n16,25\n24,10\n32,2\n40,2\n');
    writeFileSync(digitsTrace, 't_s,rps\n0,10\n40,10\n');
    const servedBy = { rec: new Map<string, number>(), digits: new Map<string, number>() };
    const count = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);
    const clock = new RealClock();
    const [rec, digits] = await Promise.all([
      replayTrace(
        {
          trace: { path: recTrace, durationMs: 40_000, sizes: { kind: 'kairos' }, seed: 5 },
          target: routerUrl,
          model: 'rm2',
          payload: new PayloadBuilder({ kind: 'size', parameters: {} }),
          seed: 5,
          onResponse: (r) => {
            if (r.status === 200) count(servedBy.rec, String((r.body as { parameters?: { instance_type?: string } }).parameters?.instance_type));
          },
        },
        clock,
      ),
      replayTrace(
        {
          trace: { path: digitsTrace, durationMs: 40_000, seed: 6 },
          target: routerUrl,
          model: 'digits-cnn',
          payload: new PayloadBuilder({ kind: 'digits', parameters: { latency_ms: 20 } }),
          seed: 6,
          onResponse: (r) => {
            if (r.status === 200) count(servedBy.digits, String((r.body as { model_name?: string }).model_name));
          },
        },
        clock,
      ),
    ]);
    await new Promise((r) => setTimeout(r, 4_000));

    assertAnswered(rec, 'rm2');
    assertAnswered(digits, 'digits');
    const mixes = ticks.map((t) => JSON.stringify(t.mix));
    assert.ok(rec.ok / rec.sent >= 0.75, `rm2: ${rec.ok} of ${rec.sent} succeeded: ${JSON.stringify(rec.failures)}; mixes ${mixes.join(' ')}`);
    assert.ok(digits.ok / digits.sent >= 0.9, `digits: ${digits.ok} of ${digits.sent} succeeded: ${JSON.stringify(digits.failures)}`);

    // Each model went only to the nodes serving it: rm2 to the emulated GPU and CPU nodes, digits to the edge nodes.
    assert.deepEqual([...servedBy.rec.keys()].filter((t) => t !== 'g4dn.xlarge' && t !== 'r5n.large'), [], `rm2 served by ${JSON.stringify([...servedBy.rec])}`);
    assert.deepEqual([...servedBy.digits.keys()], ['digits-cnn'], `digits served by ${JSON.stringify([...servedBy.digits])}`);

    // The planner kept an edge node for the digits throughout, and resized the rm2 pools with their load.
    const after = ticks.filter((t) => Object.keys(t.mix).length > 0);
    assert.ok(after.every((t) => (t.mix['t3.xlarge'] ?? 0) >= 1), `mixes ${mixes.join(' ')}`);
    const rm2Nodes = after.map((t) => (t.mix['g4dn.xlarge'] ?? 0) + (t.mix['r5n.large'] ?? 0));
    const peak = Math.max(...rm2Nodes);
    assert.ok(peak > rm2Nodes[0]! && rm2Nodes.at(-1)! < peak, `rm2 nodes over time: ${rm2Nodes.join(', ')}; mixes ${mixes.join(' ')}`);
    assertWithinBudget(ticks, BUDGET);
  });
});
