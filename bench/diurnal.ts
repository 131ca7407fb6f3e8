/**
 * Fast-frugal against the baselines at a fixed budget on the bundled diurnal scenarios: p99,
 * SLO attainment, cost and seconds over budget per scaling policy (routing: the scenario's
 * heterogeneity-aware router for every policy, so only the scaling differs).
 * Run: npx tsx bench/diurnal.ts [scenario ...]   (default: default)
 *      ROUTING='{"frugalFirst":0.7}' POLICIES=fast-frugal,kairos npx tsx bench/diurnal.ts default
 *      LATE_BINDING=0 npx tsx bench/diurnal.ts default   (the scenario's routing.lateBinding otherwise)
 *      SEEDS=1,2,3,4,5 npx tsx bench/diurnal.ts default   (one row per seed, then each policy's mean)
 *      PEAK_RPS=70 npx tsx bench/diurnal.ts default        (the scenario's trace rescaled to another peak)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfigObject } from '../src/config/load.ts';
import { runSimulation } from '../sim/runner.ts';

const SCENARIOS = fileURLToPath(new URL('../sim/scenarios/', import.meta.url));
const scenarios = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['default'];
const policies = (process.env['POLICIES'] ?? 'fast-frugal,homogeneous-fast,homogeneous-cheap,kairos,target-tracking').split(',');
const routingOptions = JSON.parse(process.env['ROUTING'] ?? '{}') as Record<string, unknown>;
const scalingOptions = JSON.parse(process.env['SCALING'] ?? '{}') as Record<string, unknown>;

const seeds = process.env['SEEDS']?.split(',').map(Number);
const means: string[] = [];

process.stdout.write(`| scenario | scaling |${seeds !== undefined ? ' seed |' : ''} p50 ms | p99 ms | within SLO | dropped | cost $ | over-budget s | mix changes |\n|---|---|${seeds !== undefined ? '---|' : ''}---|---|---|---|---|---|---|\n`);
for (const scenario of scenarios) {
  const raw = parse(readFileSync(`${SCENARIOS}${scenario}.yaml`, 'utf8')) as Record<string, unknown>;
  for (const policy of policies) {
    let p99Sum = 0;
    let withinSum = 0;
    for (const seed of seeds ?? [undefined]) {
      const cfg = {
        ...raw,
        sim: {
          ...(raw['sim'] as Record<string, unknown>),
          ...(seed !== undefined ? { seed } : {}),
          ...(process.env['PEAK_RPS'] !== undefined ? { trace: { ...((raw['sim'] as Record<string, unknown>)['trace'] as object), peakRps: Number(process.env['PEAK_RPS']) } } : {}),
        },
        routing: {
          ...(raw['routing'] as object),
          policy: 'heterogeneity-aware',
          options: routingOptions,
          ...(process.env['LATE_BINDING'] !== undefined ? { lateBinding: process.env['LATE_BINDING'] === '1' } : {}),
        },
        scaling: { ...(raw['scaling'] as object), policy, options: policy.startsWith('fast-frugal') ? scalingOptions : policy === 'oracle-static' ? { mix: JSON.parse(process.env['ORACLE_MIX'] ?? '{}') as unknown } : {} },
      };
      const r = await runSimulation(loadConfigObject(cfg, SCENARIOS));
      p99Sum += r.latencyMs.p99;
      withinSum += r.slo.attainment;
      process.stdout.write(
        `| ${scenario} | ${policy} |${seed !== undefined ? ` ${seed} |` : ''} ${r.latencyMs.p50.toFixed(0)} | ${r.latencyMs.p99.toFixed(0)} | ${(r.slo.attainment * 100).toFixed(2)}% | ${r.requests.dropped} | ${r.cost.totalUsd.toFixed(2)} | ${r.cost.overBudgetSeconds} | ${r.decisions.length} |\n`,
      );
    }
    if (seeds !== undefined) means.push(`| ${scenario} | ${policy} | ${(p99Sum / seeds.length).toFixed(1)} | ${((withinSum / seeds.length) * 100).toFixed(2)}% |`);
  }
}
if (seeds !== undefined) process.stdout.write(`\nMean over seeds ${seeds.join(', ')}:\n\n| scenario | scaling | mean p99 ms | mean within SLO |\n|---|---|---:|---:|\n${means.join('\n')}\n`);
