import type { LoadedConfig } from '../src/config/load.ts';
import { controllerSection } from '../src/config/sections/controller.ts';
import type { SizeSpec } from '../src/core/sizes.ts';
import type { Mix, Ms, RequestClass } from '../src/core/types.ts';
import { runSimulation, simSettings } from './runner.ts';

/** What a short simulation of one fixed mix gave, per class. */
export interface MixCheck {
  readonly mix: Mix;
  /**
   * p50 and p99 are over the requests served (NaN when none was); dropped requests count in
   * `attainment` (the share of all requests within the class's SLO) and in `dropped`.
   */
  readonly perClass: Readonly<Record<string, { readonly p50Ms: number; readonly p99Ms: number; readonly attainment: number; readonly completed: number; readonly dropped: number }>>;
}

export interface MixCheckOptions {
  /** Total request rate, split over the classes by their share (as `plan --rps`). */
  readonly rps: number;
  readonly sizes: SizeSpec;
  readonly durationMs: Ms;
  readonly budgetUsdPerHour: number;
  /** Called before each mix is simulated (for progress). */
  readonly onMix?: (mix: Mix, index: number) => void;
}

/**
 * Checks the planner's answer against a short simulation (`mixscale plan --check`): each mix
 * runs as a fixed fleet, booted before the first arrival (static-mix, warm start), for
 * `durationMs` of Poisson arrivals at the planned rate and sizes, through the config's own
 * routing policy and binding, and the config's other sim settings (batching, per-slot queue
 * limit) as `mixscale sim` uses them. The simulated cloud's capacity errors and the launch
 * timeout are off: the fleet is the question, not whether it can be launched. Every mix sees the same arrival sequence (the config's sim.seed),
 * so they are compared on identical traffic. Dropped requests count as outside the SLO.
 */
export async function checkMixes(loaded: LoadedConfig, mixes: readonly Mix[], opts: MixCheckOptions): Promise<MixCheck[]> {
  const cfg = loaded.config;
  const out: MixCheck[] = [];
  for (const [i, mix] of mixes.entries()) {
    opts.onMix?.(mix, i);
    const fixed: LoadedConfig = {
      ...loaded,
      config: {
        ...cfg,
        budget: { usdPerHour: opts.budgetUsdPerHour, schedule: [] },
        scaling: { ...cfg.scaling, policy: 'static-mix', options: { mix } },
        sim: { ...simSettings(loaded), warmStart: true, capacityErrorRate: 0 },
        // A launch slower than controller.launchTimeout (10 min without a controller section) would
        // be relaunched forever: the fleet is given. The section's other settings are its defaults.
        controller: { ...(cfg.controller ?? controllerSection.parse({})), launchTimeout: Infinity },
      },
    };
    const run = await runSimulation(fixed, { arrivals: { kind: 'poisson', rps: opts.rps, durationMs: opts.durationMs, sizes: opts.sizes } });
    const perClass: Record<string, MixCheck['perClass'][string]> = {};
    for (const [name, c] of Object.entries(run.perClass)) {
      const served = c.requests.completed > 0;
      perClass[name] = { p50Ms: served ? c.latencyMs.p50 : NaN, p99Ms: served ? c.latencyMs.p99 : NaN, attainment: c.slo.attainment, completed: c.requests.completed, dropped: c.requests.dropped };
    }
    out.push({ mix, perClass });
  }
  return out;
}

/**
 * The checked mix the simulation ranks first: among those keeping every class within its SLO
 * at its quantile (dropped requests count as outside it), the lowest worst p99 of the served
 * requests relative to its SLO; if none does, the one whose worst
 * class keeps the most requests within SLO. Ties go to the earlier mix (the planner's order).
 */
export function bestChecked(checks: readonly MixCheck[], classes: ReadonlyArray<Pick<RequestClass, 'name' | 'sloMs' | 'sloQuantile'>>): MixCheck | undefined {
  const key = (c: MixCheck): number => {
    let worstShortfall = 0;
    let worstTail = 0;
    for (const k of classes) {
      const r = c.perClass[k.name];
      if (r === undefined) continue;
      worstShortfall = Math.max(worstShortfall, k.sloQuantile - r.attainment);
      worstTail = Math.max(worstTail, Number.isNaN(r.p99Ms) ? Infinity : r.p99Ms / k.sloMs);
    }
    return worstShortfall > 0 ? 1e6 + worstShortfall : worstTail;
  };
  let best: MixCheck | undefined;
  for (const c of checks) if (best === undefined || key(c) < key(best)) best = c;
  return best;
}
