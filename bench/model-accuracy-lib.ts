/**
 * Model-vs-simulator accuracy: random (mix, load) points on Kairos' four types (rm2, 350 ms QoS,
 * Kairos' size mixture), each predicted by the performance model and simulated by the real
 * simulator with that fixed mix and the default heterogeneity-aware router. Shared by
 * bench/model-accuracy.ts (the error distribution) and test/model/validation.test.ts.
 */
import { candidatesFromConfig, classesFromConfig } from '../src/control/candidates.ts';
import { loadConfigObject, type LoadedConfig } from '../src/config/load.ts';
import { Rng } from '../src/core/rng.ts';
import { sizePmf } from '../src/core/sizes.ts';
import { formatMix, type Mix } from '../src/core/types.ts';
import { buildModel } from '../src/model/build.ts';
import { runSimulation } from '../sim/runner.ts';

export const KAIROS_TYPES = ['g4dn.xlarge', 'c5n.2xlarge', 'r5n.large', 't3.xlarge'] as const;
const MAX_COUNT: Record<string, number> = { 'g4dn.xlarge': 5, 'c5n.2xlarge': 6, 'r5n.large': 16, 't3.xlarge': 15 };

export interface AccuracyPoint {
  readonly mix: Mix;
  readonly rps: number;
  readonly predictedUtilization: number;
  readonly predictedP99Ms: number;
  readonly predictedP50Ms: number;
}

export interface AccuracyResult extends AccuracyPoint {
  readonly simulatedP99Ms: number;
  readonly simulatedP50Ms: number;
  /** predicted / simulated − 1. */
  readonly p99Error: number;
}

function config(mix: Mix, seed: number, routingOptions: Record<string, unknown>): LoadedConfig {
  return loadConfigObject({
    budget: { usdPerHour: 1000 },
    classes: [{ name: 'rm2', model: 'rm2', slo: '350ms', sloQuantile: 0.99 }],
    pools: KAIROS_TYPES.map((t) => ({ name: t.split('.')[0], type: t })),
    scaling: { policy: 'static-mix', options: { mix } },
    routing: { policy: 'heterogeneity-aware', options: routingOptions },
    sim: { sizes: { kind: 'kairos' }, seed, window: '1m' },
  });
}

/**
 * `n` random points: a mix of one to three types with random counts, and a rate putting the
 * model's busiest pool at a utilization drawn uniformly from [minUtil, maxUtil].
 */
export function accuracyPoints(n: number, seed: number, minUtil = 0.3, maxUtil = 0.85): AccuracyPoint[] {
  const rng = new Rng(seed);
  const loaded = config({ 'g4dn.xlarge': 1 }, 1, {});
  const candidates = candidatesFromConfig(loaded);
  const classes = classesFromConfig(loaded);
  const sizes = sizePmf({ kind: 'kairos' }, new Rng(1));
  const points: AccuracyPoint[] = [];
  while (points.length < n) {
    const k = 1 + rng.int(3);
    const types = [...KAIROS_TYPES].sort(() => rng.next() - 0.5).slice(0, k);
    const counts = KAIROS_TYPES.map((t) => (types.includes(t) ? 1 + rng.int(MAX_COUNT[t]!) : 0));
    const target = minUtil + rng.next() * (maxUtil - minUtil);
    const at = (rps: number) => buildModel(candidates, classes, { atMs: 0, windowMs: 1, classes: [{ name: 'rm2', rps, sizes }] }).predict(counts, true);
    // Bisection on the rate for the target utilization of the busiest pool.
    let lo = 0.1;
    let hi = 1000;
    for (let i = 0; i < 40; i++) {
      const mid = (lo + hi) / 2;
      if (at(mid).maxUtilization < target) lo = mid;
      else hi = mid;
    }
    const p = at(lo);
    // Points where part of the traffic cannot be served at all have no finite p99 to compare.
    if (!Number.isFinite(p.classes[0]!.p99Ms)) continue;
    const mix: Record<string, number> = {};
    counts.forEach((c, i) => c > 0 && (mix[KAIROS_TYPES[i]!] = c));
    points.push({ mix, rps: lo, predictedUtilization: p.maxUtilization, predictedP99Ms: p.classes[0]!.p99Ms, predictedP50Ms: p.classes[0]!.p50Ms });
  }
  return points;
}

/** Simulates one point with a fixed mix and Poisson arrivals for `durationMs` of simulated time. */
export async function simulatePoint(point: AccuracyPoint, seed: number, durationMs: number, routingOptions: Record<string, unknown> = {}): Promise<AccuracyResult> {
  const run = await runSimulation(config(point.mix, seed, routingOptions), {
    scalingPolicy: 'static-mix',
    routingPolicy: 'heterogeneity-aware',
    seed,
    arrivals: { kind: 'poisson', rps: point.rps, durationMs, sizes: { kind: 'kairos' } },
  });
  const sim = run.perClass['rm2']!.latencyMs;
  return { ...point, simulatedP99Ms: sim.p99, simulatedP50Ms: sim.p50, p99Error: point.predictedP99Ms / sim.p99 - 1 };
}

export function describePoint(r: AccuracyResult): string {
  return `${formatMix(r.mix)} @ ${r.rps.toFixed(1)} rps (util ${(r.predictedUtilization * 100).toFixed(0)}%): p99 model ${r.predictedP99Ms.toFixed(0)} ms vs sim ${r.simulatedP99Ms.toFixed(0)} ms (${r.p99Error >= 0 ? '+' : ''}${(r.p99Error * 100).toFixed(1)}%)`;
}

/** The simulated share of requests within 350 ms for a fixed mix at a constant Poisson `rps`. */
export async function simulateAttainment(mix: Mix, rps: number, seed: number, durationMs: number): Promise<number> {
  const run = await runSimulation(config(mix, seed, {}), {
    scalingPolicy: 'static-mix',
    routingPolicy: 'heterogeneity-aware',
    seed,
    arrivals: { kind: 'poisson', rps, durationMs, sizes: { kind: 'kairos' } },
  });
  return run.slo.attainment;
}
