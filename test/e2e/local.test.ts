import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RealClock } from '../../src/core/clock.ts';
import { PayloadBuilder } from '../../src/load/payload.ts';
import { replayTrace } from '../../src/load/replay.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));
const BUDGET = 1.5;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Tick {
  tick: number;
  mix: Record<string, number>;
  costUsdPerHour: number;
  spendUsdPerHour: number;
  budgetUsdPerHour: number;
}

/**
 * The whole system on one machine: router, controller with the local provider (which
 * launches `mixscale node emulated` processes as instances), and the load generator
 * replaying a trace whose rate rises and falls. Kept short for CI; docs/nodes.md has the
 * long walkthrough.
 */
describe('local end-to-end: router + controller (local provider) + emulated nodes + load', function () {
  this.timeout(150_000);
  let dir: string;
  const children: ChildProcess[] = [];
  const ticks: Tick[] = [];
  let routerUrl: string;

  function start(args: string[], onStderrLine?: (line: string) => void): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    if (onStderrLine !== undefined) createInterface({ input: child.stderr! }).on('line', onStderrLine);
    else child.stderr!.resume();
    return child;
  }

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-e2e-'));
    const port = await freePort();
    routerUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'local.yaml'),
      `budget: { usdPerHour: ${BUDGET} }
classes:
  - { name: rm2, model: rm2, slo: 350ms, sloQuantile: 0.99 }
pools:
  - { name: gpu, type: g4dn.xlarge, bootTime: 2s, maxCount: 2 }
  - { name: r5n, type: r5n.large, bootTime: 2s, maxCount: 8 }
scaling: { policy: fast-frugal, interval: 2s }
router:
  listen: { host: 127.0.0.1, port: ${port} }
  snapshotWindow: 4s
  adminToken: e2e-admin-token-0123456789
controller:
  provider: local
  cluster: e2e
  schedule: '*/2 * * * * *'
  routerUrl: ${routerUrl}
  launchTimeout: 1m
  drainTimeout: 10s
  local: { bootDelay: 1s }
`,
    );
    const router = start(['--log-level', 'warn', 'router', '--config', join(dir, 'local.yaml')]);
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: router.stdout! }).once('line', () => resolve());
      router.once('exit', (c) => reject(new Error(`router exited ${c}`)));
    });
    const controller = start(['controller', '--config', join(dir, 'local.yaml')], (line) => {
      if (!line.startsWith('{')) return;
      const v = JSON.parse(line) as Partial<Tick>;
      if (v.tick !== undefined && v.mix !== undefined) ticks.push(v as Tick);
    });
    controller.stdout!.resume();
    // Wait for the first fleet to come up.
    const until = Date.now() + 60_000;
    while (ticks.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    assert.ok(ticks.length > 0, 'controller made no decision within a minute');
    // ...and for the router to have a node that answers.
    for (;;) {
      const r = await fetch(`${routerUrl}/v2/models/rm2/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'input', shape: [10, 1], datatype: 'FP32', data: new Array(10).fill(0) }] }) }).catch(() => undefined);
      if (r?.status === 200) break;
      assert.ok(Date.now() < until, 'no node answered through the router within a minute');
      await new Promise((res) => setTimeout(res, 250));
    }
  });

  after(async () => {
    const stop = (c: ChildProcess): Promise<void> =>
      c.exitCode !== null ? Promise.resolve() : new Promise((r) => (c.once('exit', () => r()), c.kill('SIGTERM')));
    // Controller first (it leaves its nodes for a successor to adopt), then the nodes it launched, then the router.
    if (children[1] !== undefined) await stop(children[1]);
    const state = join(dir, '.mixscale', 'local-e2e.json');
    if (existsSync(state)) {
      for (const i of (JSON.parse(readFileSync(state, 'utf8')) as { instances: Array<{ pid: number }> }).instances) {
        try {
          process.kill(i.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    if (children[0] !== undefined) await stop(children[0]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every request while the fleet changes with the load, never spending over the budget', async () => {
    const trace = join(dir, 'trace.csv');
    // Requests per second rising from 2 to 40 and falling back, 6 s per step.
    writeFileSync(trace, 't_s,rps\n0,2\n6,15\n12,40\n18,15\n24,2\n30,2\n');
    const failedAt: string[] = [];
    const report = await replayTrace(
      {
        trace: { path: trace, durationMs: 30_000, sizes: { kind: 'kairos' }, seed: 5 },
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

    // Every request got an HTTP answer: no connection errors or client timeouts.
    const transport = Object.entries(report.failures).filter(([reason]) => !reason.startsWith('http '));
    assert.deepEqual(transport, [], `requests without an answer: ${JSON.stringify(report.failures)}`);
    assert.ok(report.sent > 300, `sent ${report.sent}`);
    // The router may turn a few away (503 / 504 when it predicts a missed deadline) while nodes boot or drain.
    assert.ok(report.ok / report.sent >= 0.85, `only ${report.ok} of ${report.sent} succeeded: ${JSON.stringify(report.failures)}; ${failedAt.slice(0, 8).join(' | ')}; mixes ${ticks.map((t) => JSON.stringify(t.mix)).join(' ')}`);

    // The fleet changed over time, and neither the plan nor the spend ever exceeded the budget.
    const mixes = ticks.map((t) => JSON.stringify(t.mix));
    const changes = mixes.filter((m, i) => i > 0 && m !== mixes[i - 1]).length;
    assert.ok(changes >= 2, `fleet mix over time: ${mixes.join(' → ')}`);
    const sizes = ticks.map((t) => Object.values(t.mix).reduce((a, b) => a + b, 0));
    assert.ok(Math.max(...sizes) > Math.min(...sizes), `fleet size over time: ${sizes.join(', ')}`);
    for (const t of ticks) {
      assert.ok(t.costUsdPerHour <= t.budgetUsdPerHour + 1e-9, `tick ${t.tick} planned $${t.costUsdPerHour}/h`);
      assert.ok(t.spendUsdPerHour <= BUDGET + 1e-9, `tick ${t.tick} spent $${t.spendUsdPerHour}/h`);
    }
  });
});
