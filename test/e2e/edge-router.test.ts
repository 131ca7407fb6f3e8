import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RealClock } from '../../src/core/clock.ts';
import { PayloadBuilder } from '../../src/load/payload.ts';
import { replayTrace } from '../../src/load/replay.ts';
import { freePort } from '../support/local-system.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));
const EDGE_PROFILE = fileURLToPath(new URL('../../models/digits-cnn/profile.csv', import.meta.url));

function start(args: string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [BIN, '--log-level', 'warn', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve((JSON.parse(l) as { listening: string }).listening));
    child.once('exit', (c) => reject(new Error(`${args[0]} exited ${c}`)));
  });
  return { child, url };
}

/** Two edge nodes behind the router (declared as a pool with the edge model's measured profile), driven by the load generator. */
describe('edge nodes behind the router', function () {
  this.timeout(90_000);
  const children: ChildProcess[] = [];
  let dir: string;
  let routerUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-edge-router-'));
    const edges = [start(['node', 'edge', '--port', '0', '--warmup-runs', '10']), start(['node', 'edge', '--port', '0', '--warmup-runs', '10'])];
    children.push(...edges.map((e) => e.child));
    const urls = await Promise.all(edges.map((e) => e.url));
    const port = await freePort();
    writeFileSync(
      join(dir, 'edge.yaml'),
      `budget: { usdPerHour: 1 }
profiles: [${JSON.stringify(EDGE_PROFILE)}]
classes: [{ name: digits, model: digits-cnn, slo: 2s }]
pools: [{ name: edge, type: t3.xlarge }]
router:
  listen: { host: 127.0.0.1, port: ${port} }
  adminToken: edge-admin-token-0123456789
  backends:
${urls.map((u, i) => `    - { id: edge-${i}, url: "${u}", type: t3.xlarge, pool: edge }`).join('\n')}
`,
    );
    const router = start(['router', '--config', join(dir, 'edge.yaml')]);
    children.push(router.child);
    routerUrl = await router.url;
  });

  after(async () => {
    await Promise.all(children.map((c) => (c.exitCode !== null ? Promise.resolve() : new Promise((r) => (c.once('exit', r), c.kill('SIGTERM'))))));
    rmSync(dir, { recursive: true, force: true });
  });

  // The class SLO is generous so that a loaded CI machine does not turn digits away at the router
  // (504): what is under test is routing to the pool and the exit each node chooses within
  // the request's own 20 ms bound; deadline rejection has its own tests (test/routing).
  it('answers every digit through the router to a pool of two edge nodes, with the exit each node chose', async () => {
    const trace = join(dir, 'trace.csv');
    writeFileSync(trace, 't_s,rps\n0,30\n4,30\n');
    const payload = new PayloadBuilder({ kind: 'digits', parameters: { latency_ms: 20 } });
    let correct = 0;
    const exits = new Set<number>();
    const report = await replayTrace(
      {
        trace: { path: trace, durationMs: 4_000, seed: 4 },
        target: routerUrl,
        model: 'digits-cnn',
        payload,
        onResponse: (r) => {
          if (r.status !== 200) return;
          const b = r.body as { id: string; parameters: { exit: number }; outputs: Array<{ name: string; data: number[] }> };
          exits.add(b.parameters.exit);
          if (b.outputs.find((o) => o.name === 'label')!.data[0] === payload.truth(b.id)[0]) correct++;
        },
      },
      new RealClock(),
    );
    assert.ok(report.sent > 60, `sent ${report.sent}`);
    assert.equal(report.ok, report.sent, JSON.stringify(report.failures));
    assert.ok(correct / report.ok >= 0.93, `${correct} of ${report.ok} correct`);
    assert.ok(exits.has(1), `exits ${[...exits].join(',')}`);
    // The router counted them in the edge pool of two nodes.
    const snap = (await (await fetch(`${routerUrl}/v1/snapshot`)).json()) as { pools: Array<{ pool: string; backends: number; completed: number }> };
    const edge = snap.pools.find((p) => p.pool === 'edge')!;
    assert.equal(edge.backends, 2);
    assert.ok(edge.completed >= report.ok * 0.5, `edge pool completed ${edge.completed}`);
  });
});
