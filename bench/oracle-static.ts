/**
 * The best fixed mix in hindsight for a scenario (the `oracle-static` policy's mix): simulate the
 * whole trace with each mix of a pruned set (the model's best mixes at the trace's peak and at
 * half of it, their runners-up, and the homogeneous fleets) and keep the lowest p99 among those
 * meeting the first class's SLO attainment target.
 * Run: npx tsx bench/oracle-static.ts [--config sim/scenarios/default.yaml]
 *      PEAK_RPS=70 npx tsx bench/oracle-static.ts   (the scenario's trace rescaled to another peak)
 * Prints the mix as JSON on the last line, for `scaling.options.mix` or ORACLE_MIX of bench/diurnal.ts.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOracleStatic, oracleCandidateMixes } from '../policies/scaling/oracle-static.ts';
import { loadConfigFile, loadConfigObject } from '../src/config/load.ts';
import { candidatesFromConfig, classesFromConfig } from '../src/control/candidates.ts';
import { Rng } from '../src/core/rng.ts';
import { sizePmf } from '../src/core/sizes.ts';
import { formatMix, type Mix } from '../src/core/types.ts';
import { runSimulation } from '../sim/runner.ts';

const i = process.argv.indexOf('--config');
const path = i >= 0 ? process.argv[i + 1]! : fileURLToPath(new URL('../sim/scenarios/default.yaml', import.meta.url));
const file = loadConfigFile(path);
const peakRps = process.env['PEAK_RPS'] !== undefined ? Number(process.env['PEAK_RPS']) : undefined;
const loaded =
  peakRps === undefined || file.config.sim?.trace === undefined
    ? file
    : { ...file, config: { ...file.config, sim: { ...file.config.sim, trace: { ...file.config.sim.trace, peakRps } } } };
const classes = classesFromConfig(loaded);
const candidates = candidatesFromConfig(loaded);
const peak = loaded.config.sim?.trace?.peakRps ?? 100;
const sizes = sizePmf(loaded.config.sim?.sizes ?? { kind: 'kairos' }, new Rng(1));
const shares = classes.reduce((a, c) => a + c.share, 0);
const loadAt = (rps: number) => ({ atMs: 0, windowMs: 60_000, classes: classes.map((c) => ({ name: c.name, rps: (rps * c.share) / shares, sizes })) });
const mixes = oracleCandidateMixes(candidates, classes, [loadAt(peak), loadAt(peak / 2)], loaded.config.budget.usdPerHour);

const simulate = async (mix: Mix) => {
  const cfg = loadConfigObject({ ...loaded.config, scaling: { ...loaded.config.scaling, policy: 'static-mix', options: { mix } } }, dirname(resolve(loaded.source)));
  const r = await runSimulation(cfg, { scalingPolicy: 'static-mix' });
  process.stderr.write(`${formatMix(mix)}: p99 ${r.latencyMs.p99.toFixed(0)} ms, within SLO ${(r.slo.attainment * 100).toFixed(2)}%\n`);
  return { p99Ms: r.latencyMs.p99, attainment: r.slo.attainment };
};
const best = await findOracleStatic(mixes, simulate, classes[0]!.sloQuantile);
process.stdout.write(`oracle-static for ${relative(process.cwd(), path)}: ${formatMix(best.mix)} (p99 ${best.outcome.p99Ms.toFixed(0)} ms, ${(best.outcome.attainment * 100).toFixed(2)}% within SLO; ${best.tried} mixes simulated)\n${JSON.stringify(best.mix)}\n`);
