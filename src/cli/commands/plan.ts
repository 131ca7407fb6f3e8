import type { Command } from 'commander';
import { candidatesFromConfig, classesFromConfig, unprofiledByModel } from '../../control/candidates.ts';
import { maxRpsWithinSlo } from '../../control/max-load.ts';
import { planMix, type PlanInput, type PlannerOptions, type PlanResult } from '../../control/planner.ts';
import { candidateServes, type LoadObservation } from '../../control/types.ts';
import { MixscaleError } from '../../core/errors.ts';
import { Rng } from '../../core/rng.ts';
import { sizePmf, type SizeSpec } from '../../core/sizes.ts';
import { sizeSpec as sizeSpecSchema } from '../../config/fields.ts';
import { formatMix, type Mix, type PredictedLatency } from '../../core/types.ts';
import { fixed, percent, roundedFloats } from '../../core/units.ts';
import { checkJsonFile, decimal, jsonRequested, positiveNumber, requireConfig, writeJsonOutput } from '../context.ts';
import { renderTable } from '../table.ts';
import type { MixCheck } from '../../../sim/check.ts';
import { plannerOptionsFor } from '../../../policies/scaling/fast-frugal.ts';

interface PlanOptions {
  rps?: string;
  sizeDist?: string;
  budget?: string;
  budgetSweep?: string;
  check?: string | true;
}

/** Simulated minutes of `--check` without a value. */
const CHECK_MINUTES = 10;

/** `--check [minutes]` → simulated ms; undefined when not asked. */
export function parseCheck(value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === true) return CHECK_MINUTES * 60_000;
  const m = decimal(value);
  if (!(m > 0 && m <= 240)) throw new MixscaleError('MIXSCALE_USAGE', `--check: expected simulated minutes in (0, 240], got "${value}"`);
  return m * 60_000;
}

/** `kairos`, `fixed:N`, `uniform:MIN:MAX`, `lognormal:MU:SIGMA`, or a JSON size spec. */
export function parseSizeDist(text: string): SizeSpec {
  const t = text.trim();
  if (t.startsWith('{')) {
    let raw: unknown;
    try {
      raw = JSON.parse(t);
    } catch {
      throw new MixscaleError('MIXSCALE_USAGE', `--size-dist: not valid JSON: ${t}`);
    }
    return checkedSizeSpec(raw, t);
  }
  const [kind, ...args] = t.split(':');
  const nums = args.map(decimal);
  const bad = (): never => {
    throw new MixscaleError('MIXSCALE_USAGE', `--size-dist: "${t}" is not a size distribution; use kairos, fixed:N, uniform:MIN:MAX, lognormal:MU:SIGMA or a JSON spec`);
  };
  if (nums.some((n) => !Number.isFinite(n))) bad();
  const [a, b] = nums;
  if (kind === 'kairos' && nums.length === 0) return { kind: 'kairos' };
  // The short forms are checked by the same rules as the JSON one (and sim.sizes in a config).
  if (kind === 'fixed' && nums.length === 1) return checkedSizeSpec({ kind, size: a }, t);
  if (kind === 'uniform' && nums.length === 2) return checkedSizeSpec({ kind, min: a, max: b }, t);
  if (kind === 'lognormal' && nums.length === 2) return checkedSizeSpec({ kind, mu: a, sigma: b }, t);
  return bad();
}

/** A size spec checked as sim.sizes in a config is, or a usage error naming --size-dist and the field. */
function checkedSizeSpec(raw: unknown, text: string): SizeSpec {
  const r = sizeSpecSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new MixscaleError('MIXSCALE_USAGE', `--size-dist: ${at}${issue.message} (in ${text})`);
  }
  return r.data;
}


/** `LO:HI:STEP` → the budgets LO, LO+STEP, ..., ≤ HI. */
export function parseSweep(text: string): number[] {
  const parts = text.split(':').map(decimal);
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x)) || !(parts[0]! > 0) || !(parts[2]! > 0) || parts[1]! < parts[0]!) {
    throw new MixscaleError('MIXSCALE_USAGE', `--budget-sweep: expected LO:HI:STEP in $/h with 0 < LO ≤ HI and STEP > 0, got "${text}"`);
  }
  const [lo, hi, step] = parts as [number, number, number];
  const n = Math.floor((hi - lo) / step + 1e-9) + 1;
  if (!(n <= 200)) throw new MixscaleError('MIXSCALE_USAGE', `--budget-sweep: ${Number.isFinite(n) ? n : 'far more than 200'} budgets from $${lo} to $${hi}/h in steps of $${step}; at most 200: use a larger STEP`);
  return Array.from({ length: n }, (_, i) => +(lo + i * step).toFixed(6));
}

/** JSON without Infinity/NaN (they become null), floats rounded (roundedFloats). */
function toJson(x: unknown): string {
  return JSON.stringify(x, (k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : roundedFloats(k, v)), 2) + '\n';
}

const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)}ms` : '∞');
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
/** A simulated share within SLO: below 1 it never reads 100.00% (one request in 30,000 dropped is a miss). */
const simPct = (x: number): string => percent(x, 2);

function planJson(p: PlanResult): Record<string, unknown> {
  return { mix: p.mix, usdPerHour: p.usdPerHour, predicted: p.predicted, split: p.split, utilization: p.utilization, reason: p.reason, search: p.search, evaluated: p.evaluated, meetsSlo: p.meetsSlo, ...(p.sharedQueue !== undefined ? { sharedQueue: p.sharedQueue } : {}) };
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('one-shot what-if: budget + load + SLO → best mix and predicted percentiles')
    .option('--rps <n>', 'total request rate, split over the classes by their share')
    .option('--size-dist <spec>', 'request sizes: kairos, fixed:N, uniform:MIN:MAX, lognormal:MU:SIGMA or JSON (default: sim.sizes of the config, else kairos)')
    .option('--budget <usd>', 'budget in $/h (default: budget.usdPerHour of the config)')
    .option('--budget-sweep <lo:hi:step>', 'print budget → best p99 and max rps within SLO for each budget')
    .option('--check [minutes]', `check the chosen mix and the runners-up against a short simulation: each runs as a fixed, warm fleet for MINUTES (default ${CHECK_MINUTES}) of Poisson arrivals at this load, through the configured router`)
    .addHelpText(
      'after',
      `
Examples:
  mixscale plan --config sim/scenarios/default.yaml --rps 80
  mixscale plan --config sim/scenarios/default.yaml --rps 80 --budget 4 --json
  mixscale plan --config sim/scenarios/default.yaml --rps 60 --budget-sweep 1:10:0.5
  mixscale plan --config sim/scenarios/default.yaml --rps 80 --check`,
    )
    .action(async (opts: PlanOptions, cmd: Command) => {
      checkJsonFile(cmd);
      const loaded = requireConfig(cmd);
      if (opts.rps === undefined) throw new MixscaleError('MIXSCALE_USAGE', 'plan: --rps N is required (the load to plan for)');
      const rps = positiveNumber('--rps', opts.rps);
      const checkMs = parseCheck(opts.check);
      if (checkMs !== undefined && opts.budgetSweep !== undefined) throw new MixscaleError('MIXSCALE_USAGE', 'plan: --check checks one plan; it does not go with --budget-sweep');
      const spec = opts.sizeDist !== undefined ? parseSizeDist(opts.sizeDist) : (loaded.config.sim?.sizes ?? { kind: 'kairos' });
      const sizes = sizePmf(spec, new Rng(1));
      const classes = classesFromConfig(loaded);
      const shares = classes.reduce((a, c) => a + c.share, 0);
      // A tail needs requests: fewer than 1,000 of a class per mix leave fewer than 10 above its p99.
      if (checkMs !== undefined) {
        const least = classes.reduce((a, c) => (c.share < a.share ? c : a));
        const n = Math.round((rps * least.share * checkMs) / shares / 1000);
        if (n < 1000) {
          const who = classes.length > 1 ? `class ${least.name} gets` : 'is';
          throw new MixscaleError('MIXSCALE_USAGE', `--check: ${checkMs / 60_000} simulated min at --rps ${rps} ${who} about ${n} requests per mix; a p99 needs at least 1000: check for longer`);
        }
      }
      const load: LoadObservation = { atMs: 0, windowMs: 60_000, classes: classes.map((c) => ({ name: c.name, rps: (rps * c.share) / shares, sizes })) };
      const candidates = candidatesFromConfig(loaded);
      for (const c of candidates) for (const k of classes) if (candidateServes(c, k.model)) c.profile(k.model); // fails early, naming the gap
      // Sizes above every profile cannot be served: all of them is a mistake, some of them a warning.
      const sizesFrom = opts.sizeDist !== undefined ? '--size-dist' : 'sim.sizes';
      // One size distribution serves every class: a model it misses entirely is warned about, as
      // long as some model can serve it (the simulator refuses the same way).
      const limits = unprofiledByModel(sizes, classes, candidates);
      if (limits.every((l) => l.share >= 1 - 1e-9)) {
        const l = limits[0]!;
        throw new MixscaleError('MIXSCALE_USAGE', `${sizesFrom}: every request size is above ${l.maxSize}, the largest size ${l.model} is profiled for; such requests cannot be served`);
      }
      for (const l of limits) {
        if (l.share > 0) process.stderr.write(`plan: warning: ${(l.share * 100).toFixed(1)}% of the request sizes (${sizesFrom}, used for every class) are above ${l.maxSize}, the largest size ${l.model} is profiled for; they count as unserved\n`);
      }
      // The router's binding (routing.lateBinding) decides whether pools share one queue; a
      // configured fast-frugal's planner options (tailSlack, surgeFactor, ...) apply as they would in the loop.
      const planner = plannerOptionsFor(loaded.config.scaling.policy, loaded.config.scaling.options, { lateBinding: loaded.config.routing.lateBinding });
      const input = (budget: number, extra: Partial<PlannerOptions> = {}): PlanInput => ({ budgetUsdPerHour: budget, classes, candidates, load, options: { ...planner, ...extra } });
      const out = (text: string): void => writeJsonOutput(cmd, text);

      if (opts.budgetSweep !== undefined) {
        if (opts.budget !== undefined) throw new MixscaleError('MIXSCALE_USAGE', 'plan: --budget and --budget-sweep both set the budget; give one');
        const rows = parseSweep(opts.budgetSweep).map((b, i, all) => {
          process.stderr.write(`plan: budget $${fixed(b, 2)}/h (${i + 1}/${all.length})\n`);
          try {
            // What each dollar buys: the lowest predicted tail, not the roomier mix tailSlack would run.
            const p = planMix(input(b, { tailSlack: 0 }));
            const max = maxRpsWithinSlo(input(b));
            return { budgetUsdPerHour: b, mix: p.mix, usdPerHour: p.usdPerHour, predicted: p.predicted, ...(p.sharedQueue !== undefined ? { sharedQueue: p.sharedQueue } : {}), maxRpsWithinSlo: max.rps, maxRpsMix: max.plan?.mix ?? null };
          } catch (e) {
            // A budget below the cheapest instance (or the pools' minCount) buys nothing: a row that says so.
            if (!(e instanceof MixscaleError) || e.code !== 'MIXSCALE_BUDGET_INFEASIBLE') throw e;
            return { budgetUsdPerHour: b, mix: null, usdPerHour: 0, predicted: null, maxRpsWithinSlo: 0, maxRpsMix: null, infeasible: e.message };
          }
        });
        if (jsonRequested(cmd)) {
          out(toJson({ rps, sizes: spec, sweep: rows }));
          return;
        }
        // A p99 and an attainment column per class (one class: `attainment` needs no name).
        const slos = classes.map((c) => `${c.name} ${c.sloMs} ms at p${c.sloQuantile * 100}`).join(', ');
        const heads = classes.flatMap((c) => [`p99 ${c.name}`, classes.length > 1 ? `attainment ${c.name}` : 'attainment']);
        process.stdout.write(
          `What each budget buys at ${rps} rps (sizes: ${spec.kind}); ${classes.length > 1 ? `SLOs: ${slos}` : `p99 of ${classes[0]!.name} (SLO ${classes[0]!.sloMs} ms at p${classes[0]!.sloQuantile * 100})`}:\n` +
            renderTable(
              ['$/h budget', 'best mix', '$/h used', ...heads, 'max rps within SLO'],
              rows.map((r) => {
                const { mix, predicted } = r;
                // A mix the per-pool model says misses, planned on the shared queue's word: its share beside.
                const shared = 'sharedQueue' in r ? r.sharedQueue : undefined;
                const share = (c: string): string => `${pct(predicted![c]!.attainment)}${shared?.[c] !== undefined ? ` (${pct(shared[c])} shared queue)` : ''}`;
                return mix === null || predicted === null
                  ? [fixed(r.budgetUsdPerHour, 2), 'nothing fits', '-', ...heads.map(() => '-'), '0.0']
                  : [fixed(r.budgetUsdPerHour, 2), formatMix(mix), fixed(r.usdPerHour, 2), ...classes.flatMap((c) => [ms(predicted[c.name]!.p99Ms), share(c.name)]), r.maxRpsWithinSlo.toFixed(1)];
              }),
            ) +
            '\n' +
            (rows.some((r) => 'sharedQueue' in r)
              ? "(… shared queue): the per-pool model says that mix misses the SLO; late binding's shared queue says it meets it, and the plan rests on that.\n"
              : ''),
        );
        return;
      }

      const budget = opts.budget !== undefined ? positiveNumber('--budget', opts.budget) : loaded.config.budget.usdPerHour;
      const p = planMix(input(budget));
      const max = maxRpsWithinSlo(input(budget));
      const plans: Array<{ mix: Mix; predicted: Readonly<Record<string, PredictedLatency>> }> = [p, ...p.runnersUp];
      let checked: MixCheck[] | undefined;
      let best: MixCheck | undefined;
      if (checkMs !== undefined) {
        // The simulator loads only for --check.
        const { bestChecked, checkMixes } = await import('../../../sim/check.ts');
        checked = await checkMixes(loaded, plans.map((x) => x.mix), {
          rps,
          sizes: spec,
          durationMs: checkMs,
          budgetUsdPerHour: budget,
          onMix: (mix, i) => process.stderr.write(`plan: simulating ${formatMix(mix)} for ${checkMs / 60_000} min (${i + 1}/${plans.length})\n`),
        });
        best = bestChecked(checked, classes);
      }
      if (jsonRequested(cmd)) {
        out(toJson({
          budgetUsdPerHour: budget,
          rps,
          sizes: spec,
          plan: planJson(p),
          maxRpsWithinSlo: max.rps,
          maxRpsMix: max.plan?.mix ?? null,
          runnersUp: p.runnersUp,
          ...(checked !== undefined
            ? { check: { simulatedMs: checkMs, routing: loaded.config.routing.policy, lateBinding: loaded.config.routing.lateBinding, mixes: checked, bestMix: best?.mix ?? null } }
            : {}),
        }));
        return;
      }
      const row = (name: string, sloMs: number, q: PredictedLatency): string[] => [name, `${sloMs}ms`, ms(q.p50Ms), ms(q.p99Ms), ms(q.p999Ms), pct(q.attainment)];
      const lines = [
        `Budget $${fixed(budget, 2)}/h, ${rps} rps, sizes ${spec.kind}`,
        `Best mix: ${formatMix(p.mix)}  ($${fixed(p.usdPerHour, 2)}/h; ${p.search} search over ${p.evaluated} mixes)`,
        '',
        renderTable(['class', 'SLO', 'p50', 'p99', 'p99.9', 'within SLO'], classes.map((c) => row(c.name, c.sloMs, p.predicted[c.name]!))),
        '',
        `Traffic split: ${classes.map((c) => `${c.name}: ${Object.entries(p.split?.[c.name] ?? {}).map(([t, f]) => `${t} ${(f * 100).toFixed(0)}%`).join(', ') || 'none served'}`).join('; ')}`,
        `Utilization: ${Object.entries(p.utilization).map(([t, u]) => `${t} ${(u * 100).toFixed(0)}%`).join(', ')}`,
        ...(p.sharedQueue !== undefined ? [`With late binding (one queue for every slot): ${Object.entries(p.sharedQueue).map(([k, a]) => `${k} ${pct(a)}`).join(', ')} within SLO`] : []),
        `Why: ${p.reason}`,
        `Highest load this budget holds within SLO: ${max.rps.toFixed(1)} rps${max.plan !== null ? ` (with ${formatMix(max.plan.mix)})` : ''}`,
      ];
      if (p.runnersUp.length > 0) {
        // A p99 and a within-SLO column per class (one class: `within SLO` needs no name).
        const heads = classes.flatMap((c) => [`p99 ${c.name}`, classes.length > 1 ? `within SLO ${c.name}` : 'within SLO']);
        const cells = (r: (typeof p.runnersUp)[number]) => classes.flatMap((c) => [ms(r.predicted[c.name]!.p99Ms), pct(r.predicted[c.name]!.attainment)]);
        lines.push('', 'Runners-up:', renderTable(['mix', '$/h', ...heads], p.runnersUp.map((r) => [formatMix(r.mix), fixed(r.usdPerHour, 2), ...cells(r)])));
      }
      if (checked !== undefined) {
        lines.push(
          '',
          `Checked by simulation (${checkMs! / 60_000} simulated min per mix, fixed warm fleet, ${loaded.config.routing.policy} routing${loaded.config.routing.lateBinding ? ' with late binding' : ''}, the same arrivals for each):`,
          renderTable(
            ['mix', 'class', 'p99 predicted', 'p99 simulated (served)', 'dropped', 'within SLO predicted', 'within SLO simulated'],
            checked.flatMap((c, i) =>
              classes.map((k) => {
                const pred = plans[i]!.predicted[k.name]!;
                const sim = c.perClass[k.name]!;
                return [formatMix(c.mix), k.name, ms(pred.p99Ms), Number.isNaN(sim.p99Ms) ? '-' : ms(sim.p99Ms), String(sim.dropped), pct(pred.attainment), simPct(sim.attainment)];
              }),
            ),
          ),
        );
        if (best !== undefined) {
          lines.push(
            best.mix === p.mix
              ? `The simulation agrees: no runner-up does better than ${formatMix(p.mix)}.`
              : `The simulation ranks ${formatMix(best.mix)} first (the model chose ${formatMix(p.mix)}): the model is an approximation; run \`mixscale sim\` on a trace before acting on a close call.`,
          );
        }
      }
      process.stdout.write(lines.join('\n') + '\n');
    });
}
