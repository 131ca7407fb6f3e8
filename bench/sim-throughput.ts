/**
 * Simulated requests per wall-clock second: the bundled default scenario (real control loop,
 * routing policy through PoolTracker, HDR histograms per class, type, window and control
 * window) beside a bare event-heap loop (arrival → completion through the same EventHeap,
 * nothing else) in the same process, so the ratio survives a noisy machine. The scenario runs
 * twice: with its configured policies (fast-frugal plans every 30 s with the queueing model;
 * heterogeneity-aware routing estimates finish times), and with cheap ones (homogeneous-cheap,
 * least-outstanding) to show what the simulator itself costs. Also checks that peak heap does
 * not grow with trace length.
 *
 *   npx tsx bench/sim-throughput.ts [--day]
 *
 * --day adds a simulated day at a constant 1,000 rps (86.4 M requests) on a fleet that serves it
 * ($25/h of r5n.large instead of the scenario's $2.5/h, which would turn most of it away).
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile, loadConfigObject } from '../src/config/load.ts';
import { Rng } from '../src/core/rng.ts';
import { EventHeap } from '../sim/engine.ts';
import { runSimulation, type SimOverrides } from '../sim/runner.ts';

const scenario = fileURLToPath(new URL('../sim/scenarios/default.yaml', import.meta.url));

/** The bare loop: Poisson arrivals, each schedules its completion; only heap and rng work. */
function bareLoop(requests: number): number {
  const heap = new EventHeap();
  const rng = new Rng(1);
  const start = performance.now();
  let t = 0;
  let arrived = 0;
  let done = 0;
  heap.push(rng.exponential(0.1), 0, 0);
  while (heap.pop()) {
    t = heap.poppedTime;
    if (heap.poppedKind === 0) {
      arrived++;
      heap.push(t + rng.exponential(0.01), 1, arrived);
      if (arrived < requests) heap.push(t + rng.exponential(0.1), 0, 0);
    } else done++;
  }
  if (done !== requests) throw new Error('bare loop lost requests');
  return (requests * 1000) / (performance.now() - start);
}

async function full(overrides: SimOverrides = {}, budgetUsdPerHour?: number): Promise<{ rps: number; requests: number; dropped: number; peakHeapMiB: number; fleet: string }> {
  const base = loadConfigFile(scenario);
  const loaded = budgetUsdPerHour === undefined ? base : loadConfigObject({ ...base.config, budget: { usdPerHour: budgetUsdPerHour } }, base.resolvePath('.'));
  let peak = process.memoryUsage().heapUsed;
  const run = await runSimulation(loaded, { ...overrides, onProgress: () => (peak = Math.max(peak, process.memoryUsage().heapUsed)) });
  const mix = run.fleet.at(-1)?.mix ?? {};
  return {
    rps: run.simulatedRequestsPerSecond,
    requests: run.requests.total,
    dropped: run.requests.dropped,
    peakHeapMiB: peak / 2 ** 20,
    fleet: Object.entries(mix).map(([t, n]) => `${n}×${t}`).join(' + '),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const cheap: SimOverrides = { scalingPolicy: 'homogeneous-cheap', routingPolicy: 'least-outstanding' };
// Warm the JIT on both paths first.
bareLoop(500_000);
await full(cheap);
const bare: number[] = [];
const sim: number[] = [];
let requests = 0;
for (let i = 0; i < 3; i++) {
  bare.push(bareLoop(2_000_000));
  const r = await full(cheap);
  sim.push(r.rps);
  requests = r.requests;
}
const configured = await full();
const fmt = (n: number): string => `${(n / 1e6).toFixed(2)} M/s`;
console.log(`bare event-heap loop:                         ${fmt(median(bare))} (median of 3, 2 M requests each)`);
console.log(`default scenario, homogeneous-cheap + least-outstanding: ${fmt(median(sim))} (median of 3, ${requests.toLocaleString('en-US')} requests each), ${(median(sim) / median(bare)).toFixed(2)} of bare`);
console.log(`default scenario as configured (fast-frugal + heterogeneity-aware): ${fmt(configured.rps)} (one run), ${(configured.rps / median(bare)).toFixed(3)} of bare`);

// Memory flat in trace length: the same scenario at 1×, 4× and 16× the requests (slower replay).
for (const scale of [6, 1.5, 0.375]) {
  global.gc?.();
  const r = await full({ ...cheap, arrivals: { kind: 'trace', path: fileURLToPath(new URL('../sim/scenarios/traces/servegen-deepseek-r1-day.csv', import.meta.url)), timeScale: scale, peakRps: 100 } });
  console.log(`timeScale ${String(scale).padEnd(5)} ${r.requests.toLocaleString('en-US').padStart(11)} requests: peak heap ${r.peakHeapMiB.toFixed(0)} MiB, ${fmt(r.rps)}`);
}

// The per-request reader path: the same arrival rate from files of 0.2 M and 3.2 M rows.
const dir = mkdtempSync(join(tmpdir(), 'mixscale-bench-'));
async function requestTrace(rows: number): Promise<string> {
  const path = join(dir, `trace-${rows}.csv`);
  const out = createWriteStream(path);
  out.write('t_ms,batch\n');
  const rng = new Rng(rows);
  let t = 0;
  for (let i = 0; i < rows; i++) {
    t += rng.exponential(0.05); // 50 rps
    if (!out.write(`${Math.round(t)},${10 * (1 + rng.int(50))}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(() => r()));
  return path;
}
for (const rows of [200_000, 3_200_000]) {
  global.gc?.();
  const path = await requestTrace(rows);
  const r = await full({ ...cheap, arrivals: { kind: 'trace', path } });
  console.log(`per-request trace ${rows.toLocaleString('en-US').padStart(9)} rows: peak heap ${r.peakHeapMiB.toFixed(0)} MiB, ${fmt(r.rps)}`);
}
rmSync(dir, { recursive: true, force: true });

if (process.argv.includes('--day')) {
  // A fleet that serves the load: $25/h of r5n.large (167 instances, about 60% busy at 1,000 rps).
  // Round-robin: with late binding each instance holds one request, so on one type any free
  // instance is as good as another, and round-robin finds one without scanning the fleet
  // (least-outstanding scans it for every request: 197 s for this day, p2c 101 s).
  const r = await full({ scalingPolicy: 'homogeneous-cheap', routingPolicy: 'round-robin', arrivals: { kind: 'poisson', rps: 1000, durationMs: 86_400_000 } }, 25);
  console.log(
    `simulated day at 1,000 rps on ${r.fleet}, round-robin: ${r.requests.toLocaleString('en-US')} requests (${r.dropped.toLocaleString('en-US')} dropped) in ${(r.requests / r.rps).toFixed(1)} s wall, ${fmt(r.rps)}, peak heap ${r.peakHeapMiB.toFixed(0)} MiB`,
  );
}
