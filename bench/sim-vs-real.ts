/**
 * The simulator against the real thing on one machine: the same config, trace and policy
 * run once in `mixscale sim` and once end to end (router + controller with the local
 * provider + `mixscale node emulated` processes + `mixscale load`). Prints p50/p99 and the
 * fleet decisions of both.
 *
 *   npx tsx bench/sim-vs-real.ts [--policy fast-frugal] [--peak 30]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SimRun } from '../sim/result.ts';
import { RealClock } from '../src/core/clock.ts';
import { formatMix } from '../src/core/types.ts';
import { PayloadBuilder } from '../src/load/payload.ts';
import { replayTrace } from '../src/load/replay.ts';
import { startLocalSystem } from '../test/support/local-system.ts';

const BIN = fileURLToPath(new URL('../bin/mixscale.js', import.meta.url));
const { values } = parseArgs({ options: { policy: { type: 'string', default: 'fast-frugal' }, peak: { type: 'string', default: '30' } } });
const peak = Number(values.peak);
const INTERVAL_S = 5;

const work = mkdtempSync(join(tmpdir(), 'mixscale-svr-'));
const trace = join(work, 'trace.csv');
// Two minutes: the rate climbs to the peak, holds, and falls back.
const steps = [0.15, 0.5, 1, 1, 0.5, 0.15, 0.15];
writeFileSync(trace, `t_s,rps\n${steps.map((f, i) => `${i * 20},${(f * peak).toFixed(2)}`).join('\n')}\n`);
const durationS = (steps.length - 1) * 20;

const config = (routerUrl: string, port: number): string => `budget: { usdPerHour: 1.5 }
classes:
  - { name: rm2, model: rm2, slo: 350ms, sloQuantile: 0.99 }
pools:
  - { name: gpu, type: g4dn.xlarge, bootTime: 3s, maxCount: 2 }
  - { name: r5n, type: r5n.large, bootTime: 3s, maxCount: 8 }
scaling: { policy: ${values.policy}, interval: ${INTERVAL_S}s }
sim:
  trace: { path: ${JSON.stringify(trace)}, duration: ${durationS}s }
  sizes: { kind: kairos }
  seed: 1
  window: 10s
router:
  listen: { host: 127.0.0.1, port: ${port} }
  snapshotWindow: 10s
  adminToken: bench-admin-token-0123456789
controller:
  provider: local
  cluster: svr
  schedule: '*/${INTERVAL_S} * * * * *'
  routerUrl: ${routerUrl}
  launchTimeout: 1m
  drainTimeout: 10s
  local: { bootDelay: 1s }
`;

try {
  // 1. The simulator.
  const simConfig = join(work, 'sim.yaml');
  writeFileSync(simConfig, config('http://127.0.0.1:1', 1));
  execFileSync(process.execPath, [BIN, 'sim', '--config', simConfig, '--quiet', '--json', join(work, 'sim.json')], { stdio: 'inherit' });
  const sim = (JSON.parse(readFileSync(join(work, 'sim.json'), 'utf8')) as { runs: SimRun[] }).runs[0]!;

  // 2. The real system on loopback.
  const sys = await startLocalSystem(config, { cluster: 'svr', readyProbe: '/v2/models/rm2/infer', readyTimeoutMs: 90_000 });
  let real;
  let loadStart = 0;
  try {
    loadStart = Date.now();
    real = await replayTrace({ trace: { path: trace, durationMs: durationS * 1000, sizes: { kind: 'kairos' }, seed: 1 }, target: sys.routerUrl, model: 'rm2', payload: new PayloadBuilder({ kind: 'size', parameters: {} }), seed: 1 }, new RealClock());
  } finally {
    await sys.stop();
  }
  const realDecisions = sys.ticks.filter((t, i, all) => i === 0 || JSON.stringify(t.mix) !== JSON.stringify(all[i - 1]!.mix));
  const r = real.classes.all ?? Object.values(real.classes)[0]!;
  console.log(`| run | requests | answered 200 | p50 | p99 | max $/h |`);
  console.log(`|---|---:|---:|---:|---:|---:|`);
  console.log(`| sim | ${sim.requests.total} | ${sim.requests.completed} | ${sim.latencyMs.p50.toFixed(0)} ms | ${sim.latencyMs.p99.toFixed(0)} ms | ${sim.cost.maxUsdPerHour.toFixed(2)} |`);
  const spends = sys.ticks.filter((t) => t.atMs >= loadStart).map((t) => t.spendUsdPerHour);
  const ms = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(0)} ms`);
  console.log(`| real | ${real.sent} | ${real.ok} | ${ms(r.latencyMs?.p50)} | ${ms(r.latencyMs?.p99)} | ${Math.max(...spends).toFixed(2)} |`);
  console.log('\nfleet decisions (s from the start of the load):');
  console.log(`  sim:  ${sim.decisions.map((d) => `${(d.tMs / 1000).toFixed(0)}s ${formatMix(d.mix)}`).join(' → ')}`);
  console.log(`  real: ${realDecisions.map((t) => `${((t.atMs - loadStart) / 1000).toFixed(0)}s ${formatMix(t.mix)}`).join(' → ')}`);
  console.log(`\nreal failures: ${JSON.stringify(real.failures)}; generator send lag p99 ${real.sendLagMs.p99.toFixed(1)} ms`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
