/**
 * Builds infra/profiles/kairos.csv from Kairos' raw samples (latency_samples.csv, one row per
 * measured query). Usage: tsx scripts/convert-kairos-profiles.ts <latency_samples.csv> > infra/profiles/kairos.csv
 *
 * Per (instance, model, batch) it keeps what Kairos replays (the samples not marked
 * dropped_by_kairos: the single largest of 100 is dropped), then writes the mean, the squared
 * coefficient of variation and 11 quantile knots (numpy-style linear interpolation), which is
 * what the sampler and the queueing model read. 2,000 rows instead of 200,000.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const KNOTS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1];

function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: convert-kairos-profiles <latency_samples.csv>\n');
  process.exit(2);
}
const cells = new Map<string, number[]>();
const order: string[] = [];
let header = true;
for await (const line of createInterface({ input: createReadStream(file) })) {
  if (header) {
    header = false;
    continue;
  }
  const [instance, model, batch, , sampleMs, , , dropped] = line.split(',');
  if (dropped === '1') continue;
  const key = `${instance},${model},${batch}`;
  let arr = cells.get(key);
  if (arr === undefined) {
    arr = [];
    cells.set(key, arr);
    order.push(key);
  }
  arr.push(Number(sampleMs));
}
const out = [`instance,model,batch,n,mean_ms,scv,${KNOTS.map((q) => `q${q * 100}`).join(',')}`];
for (const key of order) {
  const xs = cells.get(key)!.sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  const scv = variance / (mean * mean);
  out.push([key, xs.length, mean.toFixed(4), scv.toExponential(4), ...KNOTS.map((q) => quantile(xs, q).toFixed(3))].join(','));
}
process.stdout.write(out.join('\n') + '\n');
