/**
 * Measures the edge node's service time per request size, as a profile CSV the planner and
 * router can read (`profiles:` in the config), so a router can front edge nodes: requests of
 * 1..8 digits through the real scheduler (confidence exit 0.95, no bound), in process, one at
 * a time, 200 per size. The type column is the catalog type the edge pool is declared as.
 *
 *   npx tsx bench/edge-profile.ts --type t3.xlarge > models/digits-cnn/profile.csv
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROFILE_KNOTS } from '../src/catalog/profiles.ts';
import { RealClock } from '../src/core/clock.ts';
import { silentLogger } from '../src/core/log.ts';
import { EdgeNode } from '../src/node/edge/node.ts';
import { MultiExitModel } from '../src/node/edge/model.ts';

const { values } = parseArgs({ options: { type: { type: 'string', default: 't3.xlarge' }, samples: { type: 'string', default: '200' } } });
const MODEL_DIR = fileURLToPath(new URL('../models/digits-cnn', import.meta.url));
const digits = readFileSync(`${MODEL_DIR}/digits-test.csv`, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(1).map(Number));
const clock = new RealClock();
const node = await EdgeNode.start(await MultiExitModel.load(MODEL_DIR), clock, { policy: 'predictive', percentile: 0.99, confidenceThreshold: 0.95, maxBatchRows: 8, warmupRuns: 50, probeEveryMs: 0 }, silentLogger);
const n = Number(values.samples);
let next = 0;

/** numpy's default (linear) quantile of sorted values. */
function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

console.log(`instance,model,batch,n,mean_ms,scv,${PROFILE_KNOTS.map((q) => `q${q * 100}`).join(',')}`);
for (let size = 1; size <= 8; size++) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const data: number[] = [];
    for (let r = 0; r < size; r++) data.push(...digits[(next++) % digits.length]!);
    const t0 = clock.now();
    await node.infer({ parameters: {}, inputs: [{ name: 'input', shape: [size, 64], datatype: 'FP32', data }] }, t0);
    times.push(clock.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / n;
  const scv = times.reduce((a, t) => a + (t - mean) ** 2, 0) / n / mean ** 2;
  console.log([values.type, node.modelName, size, n, mean.toFixed(4), scv.toExponential(4), ...PROFILE_KNOTS.map((q) => quantile(times, q).toFixed(3))].join(','));
}
await node.close();
