import { isAbsolute, relative } from 'node:path';
import type { LoadedConfig } from '../../src/config/load.ts';
import { candidatesFromConfig, classesFromConfig } from '../../src/control/candidates.ts';
import { roundedFloats } from '../../src/core/units.ts';
import type { SimReport, SimRun } from '../result.ts';

/** Wraps runs with the scenario they ran on: the `--json` document. */
export function buildReport(loaded: LoadedConfig, runs: readonly SimRun[], opts: { name: string; trace: string; seed: number }): SimReport {
  return {
    scenario: {
      name: opts.name,
      // Relative to the working directory: reports do not carry machine-local paths.
      source: isAbsolute(loaded.source) ? relative(process.cwd(), loaded.source) : loaded.source,
      budgetUsdPerHour: loaded.config.budget.usdPerHour,
      ...(loaded.config.budget.schedule.length > 0 ? { budgetSchedule: loaded.config.budget.schedule.map((e) => ({ cron: e.cron, usdPerHour: e.usdPerHour })) } : {}),
      classes: classesFromConfig(loaded).map((c) => ({ name: c.name, model: c.model, sloMs: c.sloMs, sloQuantile: c.sloQuantile })),
      pools: candidatesFromConfig(loaded).map((c) => ({ name: c.pool, type: c.type, usdPerHour: c.usdPerHour, fast: c.fast, slots: c.slots })),
      trace: opts.trace,
      seed: opts.seed,
    },
    runs,
  };
}

/**
 * Serializes a report. Floats are rounded as every JSON output rounds them (roundedFloats: 6
 * significant digits, never into the whole part, 6 decimals at most), so the bytes do not hinge on
 * floating-point noise; with `timing: false` the two wall-clock fields are written as 0, which
 * makes the bytes a pure function of config and seed.
 */
export function reportJson(report: SimReport, opts: { timing?: boolean } = {}): string {
  const timing = opts.timing ?? true;
  return `${JSON.stringify(
    report,
    (key, value: unknown) => {
      if (!timing && (key === 'wallClockMs' || key === 'simulatedRequestsPerSecond')) return 0;
      return roundedFloats(key, value);
    },
    2,
  )}\n`;
}
