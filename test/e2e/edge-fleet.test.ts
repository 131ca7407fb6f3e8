import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealClock } from '../../src/core/clock.ts';
import { PayloadBuilder } from '../../src/load/payload.ts';
import { replayTrace } from '../../src/load/replay.ts';
import { assertAnswered, startLocalSystem, systemYaml, type LocalSystem } from '../support/local-system.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));
const EDGE_PROFILE = fileURLToPath(new URL('../../models/digits-cnn/profile.csv', import.meta.url));

/**
 * The controller's local provider launching edge nodes (real ONNX) instead of emulated ones:
 * the fleet of edge nodes follows a rising and falling load of real digits.
 */
describe('local end-to-end with edge nodes: controller scales a pool of real multi-exit nodes', function () {
  this.timeout(150_000);
  let sys: LocalSystem | undefined;

  before(async () => {
    sys = await startLocalSystem(
      (routerUrl, port) => `budget: { usdPerHour: 1 }
profiles: [${JSON.stringify(EDGE_PROFILE)}]
classes: [{ name: digits, model: digits-cnn, slo: 200ms }]
pools: [{ name: edge, type: t3.xlarge, bootTime: 3s, minCount: 1, maxCount: 3 }]
scaling: { policy: target-tracking, interval: 2s, options: { targetUtilization: 0.1, stabilizationWindow: 4000 } }
${systemYaml(routerUrl, port, 'edge', `{ command: ${JSON.stringify([process.execPath, BIN, '--log-level', 'warn', 'node', 'edge', '--port', '0', '--warmup-runs', '10'])} }`)}`,
      {
        cluster: 'edge',
        readyProbe: '/v2/models/digits-cnn/infer',
        readyBody: { inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: new Array(64).fill(8) }] },
        readyTimeoutMs: 90_000,
      },
    );
  });

  after(async () => {
    await sys?.stop();
  });

  it('answers the digits while the edge fleet grows and shrinks within the budget', async () => {
    const { dir, routerUrl, ticks } = sys!;
    const trace = join(dir, 'trace.csv');
    writeFileSync(trace, 't_s,rps\n0,5\n8,40\n16,80\n24,40\n32,5\n40,5\n');
    const report = await replayTrace(
      { trace: { path: trace, durationMs: 40_000, seed: 3 }, target: routerUrl, model: 'digits-cnn', payload: new PayloadBuilder({ kind: 'digits', parameters: { latency_ms: 20 } }), seed: 3 },
      new RealClock(),
    );
    await new Promise((r) => setTimeout(r, 4_000));
    assertAnswered(report, 'digits');
    assert.ok(report.ok / report.sent >= 0.9, `only ${report.ok} of ${report.sent} succeeded: ${JSON.stringify(report.failures)}`);
    const sizes = ticks.map((t) => t.mix['t3.xlarge'] ?? 0);
    assert.ok(Math.max(...sizes) > sizes[0]!, `edge fleet over time: ${sizes.join(', ')}`);
    assert.ok(Math.max(...sizes) <= 3);
    assert.ok(sizes[sizes.length - 1]! < Math.max(...sizes), `edge fleet over time: ${sizes.join(', ')}`);
  });
});
