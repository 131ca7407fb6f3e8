/**
 * Kairos' capacity question: at $2.5/h on Kairos' four types (rm2, 350 ms QoS at p99, Kairos'
 * query-size mixture), the highest constant Poisson load at which each policy keeps ≥ 99% of
 * queries within the QoS in simulation (dropped or rejected queries count as misses).
 * Run: npx tsx bench/kairos-capacity.ts [minutes per run, default 20]   (ONLY=kairos,fast-frugal to filter)
 */
import { fileURLToPath } from 'node:url';
import { loadConfigFile, loadConfigObject } from '../src/config/load.ts';
import { runSimulation } from '../sim/runner.ts';

const CONFIG = fileURLToPath(new URL('../sim/scenarios/default.yaml', import.meta.url));
const minutes = Number(process.argv[2] ?? 20);
const loaded = loadConfigFile(CONFIG);

/** Keeps the fast node for the requests only it can serve in time; no early rejection. */
const RESERVE = { frugalFirst: 1, rejectLate: false };
/** Late binding (routing.lateBinding): requests wait at the router for a free slot. */
const LATE = { lateBinding: true };
const RUNS: Array<[scaling: string, routing: string, options?: Record<string, unknown>]> = [
  ['kairos', 'heterogeneity-aware', LATE],
  ['fast-frugal', 'heterogeneity-aware', LATE],
  ['kairos', 'heterogeneity-aware'],
  ['kairos', 'heterogeneity-aware', RESERVE],
  ['kairos', 'shortest-expected-delay'],
  ['kairos', 'least-outstanding'],
  ['fast-frugal', 'heterogeneity-aware'],
  ['fast-frugal', 'heterogeneity-aware', RESERVE],
  ['fast-frugal', 'shortest-expected-delay'],
  ['homogeneous-fast', 'heterogeneity-aware'],
  ['homogeneous-cheap', 'heterogeneity-aware'],
];

async function attainment(scaling: string, routing: string, options: Record<string, unknown> | undefined, rps: number): Promise<number> {
  const { lateBinding, ...policyOptions } = options ?? {};
  // Rows without LATE bind at arrival, whatever the scenario's default.
  const cfg = loadConfigObject({ ...loaded.config, routing: { policy: routing, options: policyOptions, lateBinding: lateBinding === true } }, fileURLToPath(new URL('../sim/scenarios/', import.meta.url)));
  const run = await runSimulation(cfg, { scalingPolicy: scaling, routingPolicy: routing, seed: 11, arrivals: { kind: 'poisson', rps, durationMs: minutes * 60_000, sizes: { kind: 'kairos' } } });
  return run.slo.attainment;
}

process.stdout.write(`| scaling | routing | highest rps with ≥99% within 350 ms | attainment there |\n|---|---|---|---|\n`);
const only = process.env['ONLY']?.split(',');
for (const [scaling, routing, options] of RUNS.filter(([s]) => only === undefined || only.includes(s))) {
  const label = options === undefined ? routing : `${routing} ${JSON.stringify(options)}`;
  let lo = 0;
  let loAtt = NaN;
  let hi = 200;
  // Bisection to 1 rps.
  while (hi - lo > 1) {
    const mid = Math.round((lo + hi) / 2);
    const a = await attainment(scaling, routing, options, mid);
    process.stderr.write(`${scaling}/${label} @ ${mid} rps: ${(a * 100).toFixed(2)}%\n`);
    if (a >= 0.99) {
      lo = mid;
      loAtt = a;
    } else hi = mid;
  }
  process.stdout.write(`| ${scaling} | ${label} | ${lo} | ${(loAtt * 100).toFixed(2)}% |\n`);
}
