/**
 * Kairos' capacity question: at $2.5/h on Kairos' four types (rm2, 350 ms QoS at p99, Kairos'
 * query-size mixture), the highest constant Poisson load at which each policy keeps ≥ 99% of
 * queries within the QoS in simulation (dropped or rejected queries count as misses).
 * Run: npx tsx bench/kairos-capacity.ts [minutes per run, default 20]
 */
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/load.ts';
import { runSimulation } from '../sim/runner.ts';

const CONFIG = fileURLToPath(new URL('../sim/scenarios/default.yaml', import.meta.url));
const minutes = Number(process.argv[2] ?? 20);
const loaded = loadConfigFile(CONFIG);

const RUNS: Array<[scaling: string, routing: string]> = [
  ['kairos', 'heterogeneity-aware'],
  ['kairos', 'shortest-expected-delay'],
  ['kairos', 'least-outstanding'],
  ['fast-frugal', 'heterogeneity-aware'],
  ['fast-frugal', 'shortest-expected-delay'],
  ['homogeneous-fast', 'heterogeneity-aware'],
  ['homogeneous-cheap', 'heterogeneity-aware'],
];

async function attainment(scaling: string, routing: string, rps: number): Promise<number> {
  const run = await runSimulation(loaded, { scalingPolicy: scaling, routingPolicy: routing, seed: 11, arrivals: { kind: 'poisson', rps, durationMs: minutes * 60_000, sizes: { kind: 'kairos' } } });
  return run.slo.attainment;
}

process.stdout.write(`| scaling | routing | highest rps with ≥99% within 350 ms | attainment there |\n|---|---|---|---|\n`);
for (const [scaling, routing] of RUNS) {
  let lo = 0;
  let loAtt = NaN;
  let hi = 200;
  // Bisection to 1 rps.
  while (hi - lo > 1) {
    const mid = Math.round((lo + hi) / 2);
    const a = await attainment(scaling, routing, mid);
    process.stderr.write(`${scaling}/${routing} @ ${mid} rps: ${(a * 100).toFixed(2)}%\n`);
    if (a >= 0.99) {
      lo = mid;
      loAtt = a;
    } else hi = mid;
  }
  process.stdout.write(`| ${scaling} | ${routing} | ${lo} | ${(loAtt * 100).toFixed(2)}% |\n`);
}
