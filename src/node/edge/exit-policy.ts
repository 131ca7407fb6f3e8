import type { Ms } from '../../core/types.ts';

/**
 * When a multi-exit request stops. Both policies share the accuracy, energy and confidence
 * rules; they differ in how they treat the latency bound:
 * - `predictive` starts the next stage only if its measured q-quantile still fits before the
 *   deadline, and only if the extra time does not push a queued request past a deadline it could
 *   otherwise meet;
 * - `reactive` (as Dělen does) checks the bound only after a stage finished: if time is left,
 *   it runs the next stage, however long that takes, so it can overshoot by one stage.
 */
export type ExitPolicyName = 'predictive' | 'reactive';
export const EXIT_POLICIES: readonly ExitPolicyName[] = ['predictive', 'reactive'];

export type ExitReason = 'confidence' | 'latency' | 'queue' | 'energy' | 'last-exit';

/** What the policy sees of one request that just finished stage `done` (0-based). */
export interface ExitCandidate {
  readonly deadlineMs: Ms;
  readonly minExit: number;
  readonly maxExit: number;
  readonly rows: number;
  /** Lowest max-probability over the request's rows at the exit just reached. */
  readonly confidence: number;
}

export interface ExitContext {
  readonly now: Ms;
  /** The stage that just finished (0-based); the question is whether to run `done + 1`. */
  readonly done: number;
  readonly stageCount: number;
  readonly confidenceThreshold: number;
  /** Predicted time (ms, at the configured percentile) of running `stage` on `rows` rows at once. */
  stageMs(stage: number, rows: number): number;
  /**
   * How much extra time the queued requests can absorb before one that can still meet its
   * deadline no longer would (Infinity when nothing waits). Asked by the predictive policy only.
   */
  queueSlackMs(): number;
}

/** For each candidate: null to run the next stage, or why it stops here. */
export function decideExits(policy: ExitPolicyName, jobs: readonly ExitCandidate[], ctx: ExitContext): Array<ExitReason | null> {
  const next = ctx.done + 1;
  const out: Array<ExitReason | null> = jobs.map((j) => {
    if (next >= ctx.stageCount) return 'last-exit';
    // Confidence first: a request confident enough stops for that reason, whatever the
    // energy bound says of the next exit (max_energy ≥ the exit min_accuracy needs).
    if (next > j.minExit && j.confidence >= ctx.confidenceThreshold) return 'confidence';
    if (next > j.maxExit) return 'energy';
    if (next <= j.minExit) return null; // the accuracy bound needs this stage
    if (policy === 'reactive') return ctx.now < j.deadlineMs ? null : 'latency';
    return null;
  });
  if (policy === 'reactive') return out;

  // Predictive: the optional stage runs for the largest set of requests whose batch (with the
  // mandatory rows) still ends before each one's deadline, the mandatory requests' included:
  // taken latest deadline first (on a tie, least confident first: they gain most from the
  // stage), a set fits when the stage ends before its earliest deadline. A request left out
  // stops here ('latency'); one that fits but would cost the queue a deadline it could still
  // meet stops too ('queue').
  const opt = jobs.flatMap((j, i) => (out[i] === null && next > j.minExit ? [i] : []));
  if (opt.length === 0) return out;
  opt.sort((a, b) => jobs[b]!.deadlineMs - jobs[a]!.deadlineMs || jobs[a]!.confidence - jobs[b]!.confidence);
  const mandatoryRows = (stage: number): number => jobs.reduce((a, j, i) => (out[i] === null && stage <= j.minExit ? a + j.rows : a), 0);
  const mandatory = mandatoryRows(next);
  const base = mandatory > 0 ? ctx.stageMs(next, mandatory) : 0;
  // A request that must run the stage bounds the batch too: the stage has to end early enough
  // for the later stages it needs (with the rows sure to run them) to end by its deadline. One
  // that misses its deadline even without optional rows does not hold the others back.
  let limit = Infinity;
  jobs.forEach((j, i) => {
    if (out[i] !== null || next > j.minExit || j.deadlineMs === Infinity) return;
    let rest = 0;
    for (let s = next + 1; s <= j.minExit; s++) rest += ctx.stageMs(s, mandatoryRows(s));
    if (ctx.now + base + rest <= j.deadlineMs) limit = Math.min(limit, j.deadlineMs - rest);
  });
  const ends: number[] = [];
  let rows = mandatory;
  let fits = 0;
  for (let k = 0; k < opt.length; k++) {
    rows += jobs[opt[k]!]!.rows;
    const t = ctx.stageMs(next, rows);
    ends.push(t);
    if (ctx.now + t <= Math.min(limit, jobs[opt[k]!]!.deadlineMs)) fits = k + 1;
  }
  let kept = fits;
  if (fits > 0) {
    const slack = ctx.queueSlackMs();
    while (kept > 0 && ends[kept - 1]! - base > slack) kept--;
  }
  for (let k = kept; k < opt.length; k++) out[opt[k]!] = k < fits ? 'queue' : 'latency';
  return out;
}
