/**
 * Error distribution of the performance model against the simulator: N random (mix, load)
 * points on Kairos' types (bench/model-accuracy-lib.ts), busiest pool 30–85% utilized, each
 * simulated for M minutes with the heterogeneity-aware router (early rejection off: the model
 * predicts latency, not admission control).
 * Run: npx tsx bench/model-accuracy.ts [N=60] [M=30]
 */
import { accuracyPoints, describePoint, simulatePoint, type AccuracyResult } from './model-accuracy-lib.ts';

const n = Number(process.argv[2] ?? 60);
const minutes = Number(process.argv[3] ?? 30);
const results: AccuracyResult[] = [];
for (const [i, p] of accuracyPoints(n, 2024).entries()) {
  const r = await simulatePoint(p, 500 + i, minutes * 60_000, { rejectLate: false });
  results.push(r);
  process.stderr.write(describePoint(r) + '\n');
}
const abs = results.map((r) => Math.abs(r.p99Error)).sort((a, b) => a - b);
const q = (p: number) => abs[Math.min(abs.length - 1, Math.floor(p * abs.length))]!;
const signed = results.map((r) => r.p99Error);
const bias = signed.reduce((a, b) => a + b, 0) / signed.length;
const within = (x: number) => results.filter((r) => Math.abs(r.p99Error) <= x).length;
const p50abs = results.map((r) => Math.abs(r.predictedP50Ms / r.simulatedP50Ms - 1)).sort((a, b) => a - b);
process.stdout.write(
  [
    `model vs simulator, ${n} points, ${minutes} min each:`,
    `p99 |error|: median ${(q(0.5) * 100).toFixed(1)}%, p90 ${(q(0.9) * 100).toFixed(1)}%, max ${(abs[abs.length - 1]! * 100).toFixed(1)}%; mean signed error ${(bias * 100).toFixed(1)}% (positive: model pessimistic)`,
    `within 10%: ${within(0.1)}/${n}, within 25%: ${within(0.25)}/${n}`,
    `p50 |error|: median ${(p50abs[Math.floor(p50abs.length / 2)]! * 100).toFixed(1)}%`,
  ].join('\n') + '\n',
);
