import { loadConfigObject } from '../../../src/config/load.ts';
import { buildReport } from '../../../sim/report/json.ts';
import type { SimReport } from '../../../sim/result.ts';
import { runSimulation } from '../../../sim/runner.ts';

/** A five-minute, 30 rps scenario on one GPU and one CPU type: big enough for every plot, quick to run. */
export const tinyScenario = loadConfigObject({
  budget: { usdPerHour: 2.5 },
  classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
  pools: [
    { name: 'gpu', type: 'g4dn.xlarge' },
    { name: 'r5n', type: 'r5n.large' },
  ],
  routing: { policy: 'least-outstanding' },
  sim: { rps: 30, duration: '5m' },
});

/** The report of homogeneous-fast against homogeneous-cheap on the tiny scenario. */
export async function tinyReport(seed: number, name = 'tiny'): Promise<SimReport> {
  const runs = [];
  for (const p of ['homogeneous-fast', 'homogeneous-cheap']) runs.push(await runSimulation(tinyScenario, { scalingPolicy: p, seed }));
  return buildReport(tinyScenario, runs, { name, trace: 'constant 30 rps', seed });
}
