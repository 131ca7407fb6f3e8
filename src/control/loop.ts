import type { Clock } from '../core/clock.ts';
import { isMixscaleError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { activeMix, type Instance, type Mix, type Ms, type Plan, type RequestClass } from '../core/types.ts';
import { CapacityCooldowns } from './cooldowns.ts';
import type { ReconcileResult, Reconciler } from './reconciler.ts';
import { passThroughEstimator, type CandidateType, type Estimator, type LoadObservation, type MetricsSource, type ScalingDecision, type ScalingPolicy } from './types.ts';

export interface ControlLoopOptions {
  readonly clock: Clock;
  readonly metrics: MetricsSource;
  readonly estimator?: Estimator;
  readonly policy: ScalingPolicy;
  readonly reconciler: Reconciler;
  readonly classes: readonly RequestClass[];
  /** The candidate types, re-read every tick (prices may change at run time). */
  readonly candidates: () => readonly CandidateType[];
  /** The budget in force at a time ($/h): a constant, or a budget schedule. */
  readonly budgetAt: (nowMs: Ms) => number;
  readonly logger?: Logger;
  /** Observe and plan for real, change nothing. */
  readonly dryRun?: boolean;
  /** How long a type that hit a capacity error is left out of plans (default 10 min). */
  readonly capacityCooldownMs?: Ms;
  /** Capacity cooldowns a previous controller left (type → when each ends). */
  readonly capacityCooldowns?: ReadonlyMap<string, Ms>;
}

/**
 * - ok: observed, decided, reconciled;
 * - held: the metrics source failed, so the fleet was held as it is (never scaled to zero
 *   on missing data) while drains, registrations and timeouts still progressed;
 * - failed: something threw; logged, and the next tick proceeds;
 * - skipped: the previous tick was still running (ticks never overlap).
 */
export type TickStatus = 'ok' | 'held' | 'failed' | 'skipped';

export interface TickDecision {
  readonly mix: Mix;
  readonly reason: string;
  readonly policy: string;
  readonly plan?: Plan;
  /** See ScalingDecision.movingTo: the mix the fleet is moving to while `mix` is an interim step. */
  readonly movingTo?: Mix;
}

export interface TickRecord {
  readonly seq: number;
  readonly atMs: Ms;
  readonly durationMs: Ms;
  readonly status: TickStatus;
  readonly budgetUsdPerHour: number;
  readonly observed?: LoadObservation;
  readonly load?: LoadObservation;
  readonly decision?: TickDecision;
  readonly reconcile?: ReconcileResult;
  /** Types left out of this tick's plan because of a capacity cooldown. */
  readonly unavailable: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
}


/**
 * observe → estimate → decide → reconcile, one tick at a time. The loop owns no timer:
 * a scheduler (node-cron in production, the simulator's clock in simulation) calls tick().
 */
export class ControlLoop {
  private readonly o: ControlLoopOptions;
  private readonly log: Logger;
  private readonly estimator: Estimator;
  readonly cooldowns: CapacityCooldowns;
  private busy = false;
  private seq = 0;
  /** The last mix a policy decided; held when a later decision fails. */
  private lastTarget: Mix | undefined;

  constructor(options: ControlLoopOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.estimator = options.estimator ?? passThroughEstimator;
    this.cooldowns = new CapacityCooldowns(options.capacityCooldownMs ?? 600_000, options.capacityCooldowns);
  }

  get running(): boolean {
    return this.busy;
  }

  async tick(): Promise<TickRecord> {
    const atMs = this.o.clock.now();
    const seq = ++this.seq;
    if (this.busy) {
      const rec: TickRecord = { seq, atMs, durationMs: 0, status: 'skipped', budgetUsdPerHour: this.o.budgetAt(atMs), unavailable: [] };
      this.log.warn({ tick: seq }, 'previous tick still running; skipping this one');
      return rec;
    }
    this.busy = true;
    try {
      return await this.run(seq, atMs);
    } finally {
      this.busy = false;
    }
  }

  /**
   * The fleet to hold when there is nothing to decide with: its pending and running instances of
   * the candidates' types (one of a type no pool has, say one the catalog lacks, is not held:
   * it goes as surplus, as it would on a decided tick).
   */
  private heldMix(fleet: readonly Instance[]): Mix {
    const known = new Set(this.o.candidates().map((c) => c.type));
    return Object.fromEntries(Object.entries(activeMix(fleet)).filter(([t]) => known.has(t)));
  }

  private candidatesNow(nowMs: Ms): { candidates: CandidateType[]; unavailable: string[] } {
    const off = this.cooldowns.unavailable(nowMs);
    const candidates = this.o.candidates().map((c) => (off.has(c.type) && c.available ? { ...c, available: false } : c));
    return { candidates, unavailable: [...off].sort() };
  }

  private async run(seq: number, atMs: Ms): Promise<TickRecord> {
    const dryRun = this.o.dryRun ?? false;
    let budget = NaN;
    let observed: LoadObservation | undefined;
    let load: LoadObservation | undefined;
    let decision: TickDecision | undefined;
    let unavailable: string[] = [];
    const done = (status: TickStatus, extra: Partial<TickRecord>): TickRecord => ({
      seq,
      atMs,
      durationMs: this.o.clock.now() - atMs,
      status,
      budgetUsdPerHour: budget,
      ...(observed !== undefined ? { observed } : {}),
      ...(load !== undefined ? { load } : {}),
      ...(decision !== undefined ? { decision } : {}),
      unavailable,
      ...extra,
    });
    try {
      budget = this.o.budgetAt(atMs);
      const fleet = await this.fleet();
      let utilization: Readonly<Record<string, number>> | undefined;
      try {
        const obs = await this.o.metrics.observe(atMs);
        observed = obs.load;
        utilization = obs.utilization;
      } catch (e) {
        const err = describe(e);
        this.log.warn({ tick: seq, err: err.message }, 'metrics unavailable; holding the fleet');
        const held = this.heldMix(fleet);
        const reconcile = await this.o.reconciler.reconcile(held, budget, { dryRun, fleet });
        return done('held', { reconcile, error: err });
      }
      load = this.estimator.estimate(observed, atMs);

      let reconcile: ReconcileResult | undefined;
      /** The first attempt, when a capacity error made the tick replan: its actions count too. */
      let first: ReconcileResult | undefined;
      let currentFleet = fleet;
      // A capacity error cools the type down and replans with the rest, once per tick.
      for (let attempt = 0; attempt < 2; attempt++) {
        const c = this.candidatesNow(this.o.clock.now());
        unavailable = c.unavailable;
        let d: ScalingDecision;
        try {
          d = this.o.policy.decide({
            nowMs: atMs,
            budgetUsdPerHour: budget,
            fleet: currentFleet,
            classes: this.o.classes,
            candidates: c.candidates,
            load,
            observed,
            ...(utilization !== undefined ? { utilization } : {}),
          });
        } catch (e) {
          // A policy that cannot decide (e.g. no mix fits while old instances still drain)
          // must not freeze the fleet: keep reconciling toward the last target so drains
          // finish, terminations free budget, and the next tick can decide again.
          const err = describe(e);
          const target = this.lastTarget ?? this.heldMix(currentFleet);
          this.log.warn({ tick: seq, code: err.code, err: err.message, target }, 'policy could not decide; continuing toward the last target');
          const held = await this.o.reconciler.reconcile(target, budget, { dryRun, fleet: currentFleet });
          return done('failed', { reconcile: first !== undefined ? mergeAttempts(first, held) : held, error: err });
        }
        this.lastTarget = d.mix;
        decision = { mix: d.mix, reason: d.reason, policy: this.o.policy.name, ...(d.plan !== undefined ? { plan: d.plan } : {}), ...(d.movingTo !== undefined ? { movingTo: d.movingTo } : {}) };
        const attempted = await this.o.reconciler.reconcile(d.mix, budget, { dryRun, fleet: currentFleet });
        this.logDecision(seq, budget, observed, decision, attempted);
        reconcile = first !== undefined ? mergeAttempts(first, attempted) : attempted;
        // Types this plan already left out (refused while the fleet was looked at) need no replan.
        const refused = attempted.capacityErrors.filter((t) => !unavailable.includes(t));
        if (dryRun || refused.length === 0) break;
        for (const t of refused) this.cooldowns.mark(t, this.o.clock.now());
        if (first !== undefined) break;
        this.log.warn({ tick: seq, types: refused }, 'no capacity; cooling these types down and replanning');
        first = reconcile;
        currentFleet = await this.fleet();
      }
      return done('ok', reconcile !== undefined ? { reconcile } : {});
    } catch (e) {
      const err = describe(e);
      this.log.error({ tick: seq, code: err.code, err: err.message }, 'control tick failed');
      return done('failed', { error: err });
    }
  }

  /**
   * The fleet as the reconciler sees it. Types the reconciler found refused (a launch the cloud
   * ended at once, or one refused when sent again) cool down before the tick plans with it.
   */
  private async fleet(): Promise<Instance[]> {
    const fleet = await this.o.reconciler.fleet();
    for (const t of this.o.reconciler.refusedTypes()) this.cooldowns.mark(t, this.o.clock.now());
    return fleet;
  }

  private logDecision(seq: number, budget: number, observed: LoadObservation, decision: TickDecision, r: ReconcileResult): void {
    // The simulator runs thousands of ticks with logging off: build nothing then.
    if (!this.log.isLevelEnabled('info')) return;
    const predicted: Record<string, number> = {};
    for (const [k, v] of Object.entries(decision.plan?.predicted ?? {})) predicted[k] = v.p99Ms;
    this.log.info(
      {
        tick: seq,
        observed: observed.classes.map((c) => ({ class: c.name, rps: c.rps })),
        mix: decision.mix,
        target: r.target,
        predictedP99Ms: predicted,
        costUsdPerHour: decision.plan?.usdPerHour,
        spendUsdPerHour: r.spendUsdPerHour,
        budgetUsdPerHour: budget,
        actions: r.actions.map((a) => `${a.kind}:${a.kind === 'launch' ? `${a.count}×${a.type}` : a.id}`),
        dryRun: r.dryRun,
      },
      `decided: ${decision.reason}`,
    );
  }
}

/**
 * A tick that replanned after a capacity error did both attempts' actions: the record, the
 * status and /metrics show them all (the second attempt's plan and spend are the tick's).
 */
function mergeAttempts(first: ReconcileResult, second: ReconcileResult): ReconcileResult {
  return {
    ...second,
    actions: [...first.actions, ...second.actions],
    failures: [...first.failures, ...second.failures],
    capacityErrors: [...new Set([...first.capacityErrors, ...second.capacityErrors])],
  };
}

function describe(e: unknown): { code: string; message: string } {
  return { code: isMixscaleError(e) ? e.code : 'MIXSCALE_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
