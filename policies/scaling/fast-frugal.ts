import { LatencyFeedback } from '../../src/control/latency-feedback.ts';
import { planMix, type PlannerOptions } from '../../src/control/planner.ts';
import type { LoadObservation, ScalingDecision, ScalingPolicy, ScalingState } from '../../src/control/types.ts';
import { ConfigError } from '../../src/core/errors.ts';
import type { RequestClass } from '../../src/core/types.ts';
import type { SizePmf } from '../../src/core/sizes.ts';
import { buildModel } from '../../src/model/build.ts';
import { mixPmfs } from '../../src/model/pmf-mix.ts';
import type { ScalingContext, ScalingPolicyOptions } from './index.ts';

export interface FastFrugalOptions {
  readonly planner: Partial<PlannerOptions>;
  /**
   * Plan for this much more load than estimated (default 0: the model is already pessimistic by
   * ~7% on average, and on the default day 0 beat 0.1 and 0.25; see bench/README.md).
   */
  readonly headroom: number;
  /** Correct the model from observed p99 (see src/control/latency-feedback.ts). */
  readonly feedback: boolean;
  /**
   * Plan for the highest load estimated over this long (Kubernetes HPA's scale-down
   * stabilization window): scale up at once, down only when the load has stayed down, so a
   * dip does not trade away capacity that a mix change takes a boot time to get back.
   * Default 15 min, longer than HPA's 5: under a hard budget every mix change drains before it
   * launches, and on the bundled scenarios 15 min beat 5 (bench/README.md, fast-frugal-diurnal).
   */
  readonly scaleDownDelayMs: number;
  /**
   * Reuse the last plan while nothing it was made for has moved by more than this fraction
   * (each class's planned rate and mean size; its latency-feedback factor by half of it) and the fleet, budget
   * and candidates are unchanged; re-plan at least every `replanEveryMs` anyway. 0: plan every tick.
   */
  readonly replanTolerance: number;
  readonly replanEveryMs: number;
}

/** What the last plan was made for: when a tick's inputs match it, the plan stands. */
interface PlanKey {
  readonly atMs: number;
  readonly budget: number;
  readonly fleet: string;
  readonly candidates: string;
  readonly rps: readonly number[];
  readonly meanSize: readonly number[];
  readonly factor: readonly number[];
}

/**
 * The default scaling policy: at every tick, the mix and routing split with the lowest
 * predicted tail latency for the estimated load under the budget in force, or within the
 * planner's tailSlack of it the one with most capacity (src/control/planner.ts), with
 * hysteresis against churn. More fast nodes at low load (each request finishes sooner),
 * more frugal nodes at peak (more requests served per dollar): the swing comes from the
 * measured profiles and the queueing model, not from a rule.
 */
export class FastFrugal implements ScalingPolicy {
  readonly name = 'fast-frugal';
  readonly options: FastFrugalOptions;
  private readonly feedback = new LatencyFeedback();
  private readonly recent: Array<{ atMs: number; rps: Map<string, number>; sizes: Map<string, SizePmf> }> = [];
  private last: { key: PlanKey; decision: ScalingDecision } | undefined;
  /** Per class, the size distribution of the latest windows that had requests. */
  private readonly lastSizes = new Map<string, SizePmf>();
  /** Ticks answered with the last plan (for tests and the bench). */
  reused = 0;

  constructor(options: Partial<FastFrugalOptions> = {}) {
    this.options = { planner: {}, headroom: 0, feedback: true, scaleDownDelayMs: 900_000, replanTolerance: 0.02, replanEveryMs: 300_000, ...options };
  }

  decide(state: ScalingState): ScalingDecision {
    if (this.options.feedback) this.learn(state);
    const classes: RequestClass[] = state.classes.map((c) => ({ ...c, sloMs: c.sloMs / this.feedback.factor(c.name) }));
    const { peak, sizes } = this.stabilized(state);
    const load: LoadObservation = {
      ...state.load,
      classes: state.load.classes.map((c) => ({ ...c, rps: (peak.get(c.name) ?? c.rps) * (1 + this.options.headroom), sizes: sizes.get(c.name) ?? c.sizes })),
    };
    const key = this.keyOf(state, load);
    if (this.last !== undefined && this.unchanged(this.last.key, key)) {
      this.reused++;
      return this.last.decision;
    }
    // The shared queue's second opinion is more optimistic than the per-pool model; once the
    // observed tail has run above even the per-pool model's prediction (bursty arrivals, a slow
    // node), it is not asked.
    const trusted = state.classes.every((c) => this.feedback.factor(c.name) <= 1.02);
    const options = trusted ? this.options.planner : { ...this.options.planner, sharedQueue: false };
    const plan = planMix({ budgetUsdPerHour: state.budgetUsdPerHour, classes, candidates: state.candidates, load, fleet: state.fleet, options });
    // While instances drain, their money is held: the plan is an interim step. The mix the fleet
    // is moving to is the plan once they are gone (what the tick after the drains decides).
    const remaining = state.fleet.filter((i) => i.state !== 'draining');
    const movingTo = remaining.length < state.fleet.length ? planMix({ budgetUsdPerHour: state.budgetUsdPerHour, classes, candidates: state.candidates, load, fleet: remaining, options }).mix : undefined;
    const corrected = state.classes.filter((c) => Math.abs(this.feedback.factor(c.name) - 1) > 0.02).map((c) => `${c.name} ×${this.feedback.factor(c.name).toFixed(2)}`);
    const decision = { mix: plan.mix, reason: corrected.length > 0 ? `${plan.reason}; latency feedback ${corrected.join(', ')}` : plan.reason, plan, ...(movingTo !== undefined ? { movingTo } : {}) };
    this.last = { key, decision };
    return decision;
  }

  private keyOf(state: ScalingState, load: LoadObservation): PlanKey {
    const fleet = state.fleet
      .map((i) => `${i.pool}:${i.state}`)
      .sort()
      .join(',');
    return {
      atMs: state.nowMs,
      budget: state.budgetUsdPerHour,
      fleet,
      candidates: state.candidates.map((c) => `${c.pool}:${c.available ? 1 : 0}:${c.minCount}:${c.maxCount}`).join(','),
      rps: load.classes.map((c) => c.rps),
      meanSize: load.classes.map((c) => {
        let m = 0;
        for (let i = 0; i < c.sizes.sizes.length; i++) m += c.sizes.sizes[i]! * c.sizes.weights[i]!;
        return m;
      }),
      factor: state.classes.map((c) => this.feedback.factor(c.name)),
    };
  }

  private unchanged(a: PlanKey, b: PlanKey): boolean {
    const tol = this.options.replanTolerance;
    if (tol <= 0 || b.atMs - a.atMs >= this.options.replanEveryMs) return false;
    if (a.budget !== b.budget || a.fleet !== b.fleet || a.candidates !== b.candidates || a.rps.length !== b.rps.length) return false;
    const near = (x: number, y: number, t: number): boolean => Math.abs(x - y) <= t * Math.max(Math.abs(x), Math.abs(y), 1e-9);
    for (let i = 0; i < a.rps.length; i++) {
      if (!near(a.rps[i]!, b.rps[i]!, tol) || !near(a.meanSize[i]!, b.meanSize[i]!, tol) || !near(a.factor[i]!, b.factor[i]!, tol / 2)) return false;
    }
    return true;
  }

  /**
   * Per class, over the scale-down delay (this tick included): the highest estimated rate, and
   * the size distribution of all those windows together (weighted by rate), so that a quiet
   * window without large requests does not make the planner forget them; when none of them had
   * requests, the distribution last seen.
   */
  private stabilized(state: ScalingState): { peak: Map<string, number>; sizes: Map<string, SizePmf> } {
    this.recent.push({
      atMs: state.nowMs,
      rps: new Map(state.load.classes.map((c) => [c.name, c.rps])),
      sizes: new Map(state.load.classes.filter((c) => c.sizes.sizes.length > 0).map((c) => [c.name, c.sizes])),
    });
    while (this.recent.length > 1 && this.recent[0]!.atMs < state.nowMs - this.options.scaleDownDelayMs) this.recent.shift();
    const peak = new Map<string, number>();
    for (const r of this.recent) for (const [k, v] of r.rps) peak.set(k, Math.max(peak.get(k) ?? 0, v));
    const sizes = new Map<string, SizePmf>();
    for (const c of state.load.classes) {
      const parts = this.recent.flatMap((r) => {
        const pmf = r.sizes.get(c.name);
        return pmf === undefined ? [] : [{ pmf, weight: Math.max(r.rps.get(c.name) ?? 0, 1e-6) }];
      });
      if (parts.length > 0) this.lastSizes.set(c.name, mixPmfs(parts));
      // After a quiet spell longer than the delay, the sizes last seen (traffic that returns is
      // more like it than like nothing: an empty distribution would predict 0 ms).
      const known = this.lastSizes.get(c.name);
      if (known !== undefined) sizes.set(c.name, known);
    }
    return { peak, sizes };
  }

  /** Compares the observed tail with the model's prediction for the fleet that was running. */
  private learn(state: ScalingState): void {
    const withLatency = state.observed.classes.filter((c) => c.latency !== undefined);
    if (withLatency.length === 0) return;
    const counts = state.candidates.map((cand) => state.fleet.filter((i) => i.state === 'running' && (i.pool === cand.pool || i.type === cand.type)).length);
    if (counts.every((n) => n === 0)) return;
    const model = buildModel(state.candidates, state.classes, state.observed);
    const pred = model.predict(counts, true);
    state.classes.forEach((c, k) => {
      const obs = state.observed.classes.find((x) => x.name === c.name)?.latency;
      if (obs === undefined) return;
      const p = pred.classes[k]!;
      this.feedback.observe(c.name, obs.quantile(c.sloQuantile), p.sloQuantileMs, obs.count);
    });
  }
}

type Parsed = { planner: Record<string, unknown>; headroom?: number; feedback?: boolean; scaleDownDelayMs?: number; replanTolerance?: number; replanEveryMs?: number };

const number = (k: string, v: unknown, ok: (x: number) => boolean, expected: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new ConfigError(`scaling.options.${k}: expected ${expected}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
  return v;
};
const atLeast0 = (k: string, v: unknown): number => number(k, v, (x) => x >= 0, 'a number ≥ 0');
/** A planner option: a number ≥ 0 passed to planMix as is. */
const plannerOption = (k: string) => (o: Parsed, v: unknown): void => void (o.planner[k] = atLeast0(k, v));

/** Each `scaling.options` key fast-frugal takes, with its check. */
const OPTION_PARSERS: Readonly<Record<string, (o: Parsed, v: unknown) => void>> = {
  headroom: (o, v) => void (o.headroom = atLeast0('headroom', v)),
  scaleDownDelay: (o, v) => void (o.scaleDownDelayMs = number('scaleDownDelay', v, (x) => x >= 0, 'milliseconds ≥ 0')),
  replanTolerance: (o, v) => void (o.replanTolerance = number('replanTolerance', v, (x) => x >= 0 && x < 1, 'a fraction in [0, 1)')),
  replanEvery: (o, v) => void (o.replanEveryMs = number('replanEvery', v, (x) => x >= 0, 'milliseconds ≥ 0')),
  surgeFactor: plannerOption('surgeFactor'),
  tailSlack: plannerOption('tailSlack'),
  minGain: plannerOption('minGain'),
  changeCostUsd: plannerOption('changeCostUsd'),
  amortizeHours: plannerOption('amortizeHours'),
  exactLimit: (o, v) => void (o.planner['exactLimit'] = number('exactLimit', v, (x) => Number.isInteger(x) && x >= 1, 'an integer ≥ 1')),
  feedback: (o, v) => void (o.feedback = bool('feedback', v)),
  sharedQueue: (o, v) => void (o.planner['sharedQueue'] = bool('sharedQueue', v)),
};

function bool(k: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`scaling.options.${k}: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** The `scaling.options` fast-frugal takes. */
export const FAST_FRUGAL_OPTIONS: readonly string[] = Object.keys(OPTION_PARSERS);

export function createFastFrugal(options: ScalingPolicyOptions, context: ScalingContext = { lateBinding: true }): FastFrugal {
  // The shared-queue model describes late binding; a router that binds at arrival has per-pool queues.
  const o: Parsed = { planner: context.lateBinding ? {} : { sharedQueue: false } };
  for (const [k, v] of Object.entries(options)) {
    const parse = Object.hasOwn(OPTION_PARSERS, k) ? OPTION_PARSERS[k] : undefined;
    if (parse === undefined) throw new ConfigError(`scaling.options.${k}: not an option of fast-frugal (allowed: ${FAST_FRUGAL_OPTIONS.join(', ')})`);
    parse(o, v);
  }
  return new FastFrugal({ ...o, planner: o.planner as Partial<PlannerOptions> });
}

/**
 * The planner options a configured scaling policy plans with (for `mixscale plan`): a
 * fast-frugal's own from `scaling.options`, else the planner's defaults for this router.
 */
export function plannerOptionsFor(policy: string, options: ScalingPolicyOptions, context: ScalingContext): Partial<PlannerOptions> {
  const own = policy === 'fast-frugal' ? createFastFrugal(options, context).options.planner : {};
  return { sharedQueue: context.lateBinding, ...own };
}
