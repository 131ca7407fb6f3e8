import { MixscaleError } from '../core/errors.ts';
import { BILLED_STATES, formatMix, type Instance, type Mix, type Plan, type PredictedLatency, type RequestClass } from '../core/types.ts';
import { fixed } from '../core/units.ts';
import { buildModel } from '../model/build.ts';
import { upperBoundRps } from '../model/capacity.ts';
import type { MixPrediction, ModelClass, ModelOptions, PerformanceModel } from '../model/predict.ts';
import { sharedQueueAttainment } from '../model/shared-queue.ts';
import type { CandidateType, LoadObservation } from './types.ts';

export interface PlannerOptions {
  /**
   * Keep the current fleet unless the best mix's predicted tail is better by at least this
   * fraction (plus the change's cost, below). 0.01: over five seeds of the bundled scenarios,
   * 0–0.015 give the same results, 0.02 the same except at the day's 120 rps peak (one seed
   * changes mix there into a jump), and 0.03–0.2 hold a mix into the load's jumps
   * (bench/README.md, fast-frugal-diurnal).
   */
  readonly minGain: number;
  /** One-off cost (USD) of launching or terminating an instance (API calls, cache warm-up, risk). */
  readonly changeCostUsd: number;
  /** Over how many hours a change's cost (boot time billed while not serving + changeCostUsd) is weighed. */
  readonly amortizeHours: number;
  /** Enumerate every maximal mix when there are at most this many; otherwise bounded search. */
  readonly exactLimit: number;
  /** Runners-up kept in the result. */
  readonly runnersUp: number;
  /**
   * A change that terminates instances leaves, until its launches boot, only what both mixes
   * share; a mix whose transition fleet would run above this utilization ranks behind every
   * mix whose transition is safe.
   */
  readonly transitionMaxUtilization: number;
  readonly model: Partial<ModelOptions>;
  /**
   * Surge reserve: a mix that would be overloaded at this multiple of the load ranks behind
   * every mix that would not (1 = off). Changing mix under a hard budget means draining before
   * launching, so a fleet that cannot absorb a surge pays for it with a capacity hole.
   */
  readonly surgeFactor: number;
  /**
   * The router binds late (its default), so all slots share one queue: among mixes the per-pool
   * model says miss an SLO, those that src/model/shared-queue.ts says meet it rank first.
   */
  readonly sharedQueue: boolean;
  /**
   * Capacity over the last few percent of tail: among mixes predicted to meet every SLO whose
   * predicted tail (rank key, penalties apart) is within this fraction of the best, take the one
   * with the highest throughput bound (src/model/capacity.ts; the 64 best-ranked mixes are
   * considered; 0: always the lowest predicted tail). Under a hard
   * budget a mix change drains before it launches, so a fleet with room absorbs a surge that a
   * lean one meets with a capacity hole; at low load the mixes in the band differ by a few ms.
   * A running fleet is not changed for capacity alone: the hold compares one inside the band
   * with this choice, one outside it with the lowest predicted tail.
   */
  readonly tailSlack: number;
}

const DEFAULT_PLANNER_OPTIONS: PlannerOptions = {
  minGain: 0.01,
  changeCostUsd: 0.01,
  amortizeHours: 1,
  exactLimit: 4000,
  runnersUp: 3,
  transitionMaxUtilization: 0.9,
  model: {},
  surgeFactor: 1,
  sharedQueue: true,
  tailSlack: 0.1,
};

export interface PlanInput {
  readonly budgetUsdPerHour: number;
  readonly classes: readonly RequestClass[];
  readonly candidates: readonly CandidateType[];
  readonly load: LoadObservation;
  /** Billed instances we own (pending, running, draining); empty for a what-if. */
  readonly fleet?: readonly Instance[];
  readonly options?: Partial<PlannerOptions>;
}

export interface RankedMix {
  readonly mix: Mix;
  readonly usdPerHour: number;
  readonly score: number;
  readonly maxUtilization: number;
  readonly predicted: Readonly<Record<string, PredictedLatency>>;
}

export interface PlanResult extends Plan {
  /** Predicted utilization per type of the chosen mix. */
  readonly utilization: Readonly<Record<string, number>>;
  /** Worst predicted (SLO quantile / SLO) over classes: ≤ 1 means every SLO is predicted met. */
  readonly score: number;
  readonly runnersUp: readonly RankedMix[];
  /** Mixes the model evaluated. */
  readonly evaluated: number;
  /** True when the plan differs from the current fleet. */
  readonly changes: boolean;
  /** Every SLO predicted met: by the per-pool model, or by the shared queue's second opinion. */
  readonly meetsSlo: boolean;
  /**
   * Per class, the share within SLO that the shared-queue model (late binding) predicts, when it
   * is what ranked the chosen mix: the per-pool model says it misses an SLO, the shared queue says not.
   */
  readonly sharedQueue?: Readonly<Record<string, number>>;
}

/**
 * Orders predictions: mixes predicted to meet every SLO by tail score, then (a small weight) by
 * mean latency, so that among mixes whose tail is set by the same slowest request the one that
 * serves everyone faster wins. Mixes that miss an SLO come after, by how far their attainment
 * falls short (the worst class's missing share of its allowed misses): when no mix holds the SLO,
 * the one that keeps the most requests within it wins, not the one whose slowest 1% is least
 * slow. Overloaded mixes come last, least utilized first.
 */
export function rankKey(p: MixPrediction, classes: ReadonlyArray<Pick<ModelClass, 'sloQuantile'> & { readonly rps?: number }>): number {
  // Overloaded; an infinite tail without overload means sizes no pool serves: ranked by attainment below.
  if (!Number.isFinite(p.score) && p.maxUtilization >= 1) return 1e6 * (1 + Math.min(p.maxUtilization, 1e6));
  if (p.score <= 1) return p.score + (Number.isFinite(p.meanScore) ? 0.02 * p.meanScore : 0.02);
  let shortfall = 0;
  let total = 0;
  p.classes.forEach((c, k) => {
    // A class without traffic has nothing to miss (its attainment is 0 where no pool serves it).
    if (classes[k]!.rps === 0) return;
    const q = classes[k]!.sloQuantile;
    const s = Math.max(0, (q - c.attainment) / Math.max(1e-6, 1 - q));
    shortfall = Math.max(shortfall, s);
    total += s;
  });
  // The worst class first; then the others (a class no mix can serve must not hide the rest).
  return 1.1 + shortfall + 0.01 * (total - shortfall) + 0.001 * Math.min(p.score, 1e3);
}

/** Above every rankKey (overloaded mixes reach about 1e12). */
const DROPS_A_CLASS = 1e13;

/**
 * rankKey with the shared queue's second opinion: a mix the per-pool model says misses an SLO
 * but the shared-queue model says meets every one ranks after every mix both say meet it and
 * before every mix both say miss it (1.05 to 1.09, the fewer predicted misses the better). The
 * per-pool model stays first because its pessimism near saturation keeps the fleet off lean
 * mixes a surge would catch (bench/README.md, kairos-capacity).
 */
function mixKey(model: PerformanceModel, counts: ArrayLike<number>, p: MixPrediction, sharedQueue: boolean): number {
  // A mix that serves none of a class with traffic drops that class whole: it ranks after every
  // mix that serves each class, overloaded ones included (they serve part of it).
  if (model.dropsAClass(counts)) return DROPS_A_CLASS + rankKey(p, model.classes);
  const key = rankKey(p, model.classes);
  if (!sharedQueue || key < 1.1 || !Number.isFinite(p.score)) return key;
  const verdict = sharedVerdict(model, counts);
  if (verdict === null) return key;
  let worst = 0;
  for (const c of model.classes) if (c.rps > 0) worst = Math.max(worst, (1 - verdict[c.name]!) / Math.max(1e-6, 1 - c.sloQuantile));
  return 1.05 + 0.04 * worst;
}

/**
 * Chooses the mix (counts per candidate type) and routing split with the lowest predicted tail
 * latency under a hard $/h cap, or, within tailSlack of it, the one with the most capacity.
 * Cost is counted over everything billed: draining instances still cost money, so their price
 * is taken off the budget; pending ones are part of the mix.
 *
 * Search: every maximal mix (one where no further instance fits the budget: adding capacity
 * never raises predicted latency) when there are few enough ("exact"); otherwise the best one-
 * and two-type mixes over the types no other type dominates, refined by local search
 * ("bounded"). Within tailSlack of the lowest predicted tail, the mix with the highest
 * throughput bound is taken. Hysteresis: the current fleet is kept unless that mix is predicted
 * better by minGain plus the change's cost (instances billed while booting, per-change cost)
 * relative to the budget over amortizeHours.
 */
export function planMix(input: PlanInput): PlanResult {
  const opts: PlannerOptions = { ...DEFAULT_PLANNER_OPTIONS, ...input.options };
  if (!(input.budgetUsdPerHour > 0)) throw new MixscaleError('MIXSCALE_BUDGET_INFEASIBLE', `budget must be a positive $/h, got ${input.budgetUsdPerHour}`);
  const cands = input.candidates;
  const model = buildModel(cands, input.classes, input.load, opts.model);
  const surgeModel = opts.surgeFactor > 1 ? buildModel(cands, input.classes, scaleRates(input.load, opts.surgeFactor), opts.model) : null;
  const fleet = input.fleet ?? [];
  const poolIndex = new Map(cands.map((c, i) => [c.pool, i]));
  const current = new Array<number>(cands.length).fill(0);
  let drainingUsd = 0;
  for (const inst of fleet) {
    if (!BILLED_STATES.has(inst.state)) continue;
    if (inst.state === 'draining') {
      drainingUsd += inst.usdPerHour;
      continue;
    }
    const i = poolIndex.get(inst.pool) ?? cands.findIndex((c) => c.type === inst.type);
    if (i >= 0) current[i]!++;
  }
  const budget = input.budgetUsdPerHour - drainingUsd;
  // Unavailable types (capacity cooldown) cannot grow; they may keep what they have.
  // While instances drain, a transition is under way: keep what is running (the budget it
  // frees arrives only when the drains finish), so one change cannot cascade into a gap.
  const hold = cands.map((c, i) => Math.max(c.minCount, current[i]!));
  const holdUsd = countsUsd(hold, cands);
  const lo = drainingUsd > 0 && holdUsd <= budget + 1e-9 ? hold : cands.map((c) => c.minCount);
  const hi = cands.map((c, i) => Math.max(lo[i]!, c.available ? c.maxCount : Math.min(c.maxCount, current[i]!)));
  const minUsd = countsUsd(lo, cands);
  if (minUsd > budget + 1e-9) {
    throw new MixscaleError('MIXSCALE_BUDGET_INFEASIBLE', `budget $${fixed(input.budgetUsdPerHour, 2)}/h cannot pay for the pools' minCount ($${fixed(minUsd, 2)}/h${drainingUsd > 0 ? ` plus $${fixed(drainingUsd, 2)}/h still draining` : ''})`, { budget: input.budgetUsdPerHour });
  }

  // A fleet already predicted to miss its SLO may go through a tighter transition (anything
  // short of overload): a short dip while launches boot beats missing the SLO for good. One
  // that is already overloaded has nothing to protect: any transition is allowed.
  const curPred = current.some((n) => n > 0) ? model.predict(current, false) : null;
  const transitionLimit =
    curPred === null || curPred.score <= 1 ? opts.transitionMaxUtilization : curPred.maxUtilization >= 1 ? Infinity : Math.max(1, opts.transitionMaxUtilization);
  const search = new MixSearch(model, cands.map((c) => c.usdPerHour), lo, hi, budget, Math.max(opts.runnersUp + 1, opts.tailSlack > 0 ? ROOMY_CANDIDATES : 0), current, transitionLimit, surgeModel, opts.sharedQueue);
  // The box of counts bounds the number of mixes; count the maximal ones only when it is small.
  let box = 1;
  for (let i = 0; i < cands.length && box <= 1e6; i++) box *= Math.min(hi[i]!, lo[i]! + Math.floor(budget / cands[i]!.usdPerHour)) - lo[i]! + 1;
  const exact = box <= 1e6 && search.countMaximal(opts.exactLimit) <= opts.exactLimit;
  if (exact) search.enumerate();
  else search.bounded(cands.map((c) => c.fast));
  const lowest = search.top[0];
  if (lowest === undefined) throw new MixscaleError('MIXSCALE_BUDGET_INFEASIBLE', `no mix of the candidate types fits $${fixed(budget, 2)}/h`, { budget });
  const room = roomiest(model, search.top, lowest, opts.tailSlack);
  const best = room.mix;

  let chosen = best;
  let reasonPrefix = '';
  const curUsd = countsUsd(current, cands);
  const curValid = current.some((n) => n > 0) && curUsd <= budget + 1e-9 && current.every((n, i) => n >= lo[i]! && n <= hi[i]!);
  if (curValid && !sameCounts(current, best.counts)) {
    const cur = search.evaluate(current);
    let churnUsd = 0;
    current.forEach((n, i) => {
      const d = best.counts[i]! - n;
      const c = cands[i]!;
      if (d > 0) churnUsd += d * (c.usdPerHour * (c.bootMs / 3_600_000) + opts.changeCostUsd);
      else churnUsd += -d * opts.changeCostUsd;
    });
    const threshold = opts.minGain + churnUsd / (input.budgetUsdPerHour * opts.amortizeHours);
    const curKey = mixKey(model, current, cur.prediction, opts.sharedQueue);
    // A fleet inside tailSlack's band is weighed against the roomier choice (it is not moved for
    // capacity alone); one outside it against the lowest tail, as without tailSlack.
    const against = inBand(curKey, lowest, opts.tailSlack) ? best : lowest;
    // (No load at all: every mix is predicted the same, 0, and the fleet is held.)
    const gain = curKey > 0 ? (curKey - mixKey(model, against.counts, against.prediction, opts.sharedQueue)) / curKey : 0;
    // Hold unless the gain is worth a change; a fleet that is overloaded always moves (it is
    // dropping work), and so does one the per-pool model says misses its SLO when the best
    // mix meets it (the shared queue's second opinion ranks, it does not hold); one that
    // merely misses its SLO moves only for a real gain, so two near-equal mixes cannot make it
    // flip back and forth through capacity holes.
    const rescue = cur.prediction.score > 1 && best.prediction.score <= 1;
    if (cur.prediction.maxUtilization < 1 && !rescue && gain < threshold) {
      chosen = cur;
      const alternative = best === lowest ? 'best alternative' : `the mix with most capacity within ${slackPct(opts.tailSlack)} of the lowest predicted tail,`;
      const by = gain > -0.0005 ? `only ${(Math.max(0, gain) * 100).toFixed(1)}% better` : `${(-gain * 100).toFixed(1)}% worse`;
      reasonPrefix = `hold ${formatMix(toMix(current, cands))}: ${alternative} ${formatMix(toMix(best.counts, cands))} is predicted ${by} (threshold ${(threshold * 100).toFixed(1)}%); `;
    }
  }

  if (chosen === best && best !== lowest) {
    reasonPrefix = `most capacity within ${slackPct(opts.tailSlack)} of the lowest predicted tail (throughput bound ${room.boundRps.toFixed(0)} rps, against ${room.lowestBoundRps.toFixed(0)} rps for ${formatMix(toMix(lowest.counts, cands))}); `;
  }
  const pred = chosen === best && room.full !== undefined ? room.full : model.predict(chosen.counts, true);
  const shared = opts.sharedQueue && pred.score > 1 ? sharedVerdict(model, chosen.counts) : null;
  const predicted: Record<string, PredictedLatency> = {};
  const split: Record<string, Record<string, number>> = {};
  input.classes.forEach((c, k) => {
    predicted[c.name] = pred.classes[k]!;
    split[c.name] = { ...pred.split[k]! };
  });
  const utilization: Record<string, number> = {};
  for (const p of pred.pools) utilization[p.type] = p.utilization;
  const mix = toMix(chosen.counts, cands);
  const usd = countsUsd(chosen.counts, cands);
  const runnersUp = search.top
    .filter((r) => !sameCounts(r.counts, chosen.counts))
    .slice(0, opts.runnersUp)
    .map((r) => ranked(model, r.counts, cands, input.classes));
  return {
    mix,
    usdPerHour: usd,
    predicted,
    split,
    reason: reasonPrefix + explain(model, pred, usd, input.budgetUsdPerHour, drainingUsd, shared, unservedShare(model, chosen.counts), sameCounts(chosen.counts, lowest.counts)),
    search: exact ? 'exact' : 'bounded',
    utilization,
    score: pred.score,
    runnersUp,
    evaluated: search.evaluated,
    changes: !sameCounts(current, chosen.counts),
    meetsSlo: pred.score <= 1 || shared !== null,
    ...(shared !== null ? { sharedQueue: shared } : {}),
  };
}

const slackPct = (slack: number): string => `${+(slack * 100).toFixed(1)}%`;

/** Whether a rank key (penalties apart) is within tailSlack's band above the lowest's. */
const inBand = (base: number, lowest: Scored, slack: number): boolean => base <= lowest.base * (1 + slack);

/** How many of the best-ranked mixes tailSlack chooses among (each costs a throughput bound). */
const ROOMY_CANDIDATES = 64;

/**
 * Of the mixes predicted to meet every SLO with no pool overloaded whose rank key (penalties
 * apart, and with the same transition and surge penalty as the lowest) is within `slack` of the
 * lowest's, the one with the highest throughput bound (more than 0.1% above the rest; `top` is
 * in key order, so on a tie the lower key stays); the lowest itself when slack is 0. Bounds are
 * NaN when not computed; `full` is a roomier mix's full prediction (the plan reuses it).
 */
function roomiest(model: PerformanceModel, top: readonly Scored[], lowest: Scored, slack: number): { mix: Scored; boundRps: number; lowestBoundRps: number; full?: MixPrediction } {
  if (slack <= 0) return { mix: lowest, boundRps: NaN, lowestBoundRps: NaN };
  const bound = (s: Scored): number => upperBoundRps(model, s.counts, { withinSlo: true });
  // The search ranks with the quick prediction; a mix taken over the lowest must also meet every
  // SLO, with no pool overloaded, in the full one the plan reports.
  const lowestBoundRps = lowest.prediction.score <= 1 ? bound(lowest) : NaN;
  let best: { mix: Scored; boundRps: number; lowestBoundRps: number; full?: MixPrediction } = { mix: lowest, boundRps: lowestBoundRps, lowestBoundRps };
  if (Number.isNaN(lowestBoundRps)) return best;
  for (const s of top) {
    if (s === lowest || s.prediction.score > 1 || s.prediction.maxUtilization >= 1 || Math.abs(s.penalty - lowest.penalty) > 1e-9 || !inBand(s.base, lowest, slack)) continue;
    const b = bound(s);
    if (b <= best.boundRps * 1.001) continue;
    const full = model.predict(s.counts, true);
    if (full.score <= 1 && full.maxUtilization < 1) best = { mix: s, boundRps: b, lowestBoundRps, full };
  }
  return best;
}

/** The shared queue's attainment per class when it says every SLO is met, else null. */
function sharedVerdict(model: PerformanceModel, counts: ArrayLike<number>): Record<string, number> | null {
  // The shared queue models what is served; requests no pool serves are the per-pool model's to count.
  if (model.routable(counts).unservedRate > 0) return null;
  const att = sharedQueueAttainment(model, counts);
  if (att === null) return null;
  const out: Record<string, number> = {};
  for (let k = 0; k < att.length; k++) {
    const c = model.classes[k]!;
    if (c.rps > 0 && att[k]! < c.sloQuantile) return null;
    out[c.name] = att[k]!;
  }
  return out;
}

function scaleRates(load: LoadObservation, factor: number): LoadObservation {
  return { ...load, classes: load.classes.map((c) => ({ ...c, rps: c.rps * factor })) };
}

function ranked(model: PerformanceModel, counts: readonly number[], cands: readonly CandidateType[], classes: readonly RequestClass[]): RankedMix {
  const p = model.predict(counts, true);
  const predicted: Record<string, PredictedLatency> = {};
  classes.forEach((c, k) => (predicted[c.name] = p.classes[k]!));
  return { mix: toMix(counts, cands), usdPerHour: countsUsd(counts, cands), score: p.score, maxUtilization: p.maxUtilization, predicted };
}

/** Share of all requests that no pool of the mix can serve (sizes beyond every profile, or no pool for the model). */
function unservedShare(model: PerformanceModel, counts: ArrayLike<number>): number {
  const total = model.classes.reduce((a, c) => a + c.rps / 1000, 0);
  return total > 0 ? model.routable(counts).unservedRate / total : 0;
}

function explain(model: PerformanceModel, p: MixPrediction, usd: number, budget: number, drainingUsd: number, shared: Readonly<Record<string, number>> | null, unserved: number, lowest: boolean): string {
  const spend = `$${fixed(usd, 2)} of $${fixed(budget, 2)}/h${drainingUsd > 0 ? ` ($${fixed(drainingUsd, 2)}/h still draining)` : ''}`;
  const busiest = p.pools.reduce<{ type: string; utilization: number } | null>((a, x) => (a === null || x.utilization > a.utilization ? x : a), null);
  const util = busiest === null ? '' : `; busiest pool ${busiest.type} at ${(Math.min(busiest.utilization, 9.99) * 100).toFixed(0)}%`;
  const lost = unserved > 0 ? `; ${(unserved * 100).toFixed(1)}% of requests have a size or model no pool of the mix serves` : '';
  if (!Number.isFinite(p.score) && p.maxUtilization >= 1) return `overloaded: the load exceeds what ${spend} can serve${util}${lost}`;
  if (!Number.isFinite(p.score)) return `SLO not attainable within ${spend}${lost}${util}`;
  let worst = 0;
  p.classes.forEach((c, k) => {
    const cl = model.classes[k]!;
    const r = cl.rps > 0 ? c.sloQuantileMs / cl.sloMs : 0;
    if (r >= p.score - 1e-12) worst = k;
  });
  const wc = model.classes[worst]!;
  const q = `p${+(wc.sloQuantile * 100).toFixed(1)}`;
  const lat = p.classes[worst]!.sloQuantileMs;
  if (p.score > 1 && shared !== null) {
    const within = model.classes.map((c) => `${c.name} ${((shared[c.name] ?? 1) * 100).toFixed(2)}%`).join(', ');
    return `SLO met only with late binding's shared queue within ${spend}: ${within} within SLO (per-pool queues: ${wc.name} ${q} ${lat.toFixed(0)} ms > ${+wc.sloMs.toFixed(1)} ms)${util}; binding: budget`;
  }
  if (p.score > 1) return `SLO not attainable within ${spend}: ${wc.name} ${q} predicted ${lat.toFixed(0)} ms > ${+wc.sloMs.toFixed(1)} ms${util}${lost}`;
  return `${lowest ? 'lowest predicted tail' : 'predicted tail'} within ${spend}: ${wc.name} ${q} ${lat.toFixed(0)} ms (SLO ${+wc.sloMs.toFixed(1)} ms)${util}; binding: budget`;
}

/** What a mix given as counts per candidate costs ($/h). */
function countsUsd(counts: readonly number[], cands: readonly CandidateType[]): number {
  let usd = 0;
  for (let i = 0; i < counts.length; i++) usd += counts[i]! * cands[i]!.usdPerHour;
  return usd;
}

function toMix(counts: readonly number[], cands: readonly CandidateType[]): Mix {
  const m: Record<string, number> = {};
  counts.forEach((n, i) => {
    if (n > 0) m[cands[i]!.type] = (m[cands[i]!.type] ?? 0) + n;
  });
  return m;
}

function sameCounts(a: readonly number[], b: readonly number[]): boolean {
  return a.every((x, i) => x === b[i]);
}

interface Scored {
  readonly counts: number[];
  readonly prediction: MixPrediction;
  /** Rank key with penalties: what the search orders by. */
  readonly key: number;
  /** mixKey alone (no transition or surge penalty). */
  readonly base: number;
  readonly penalty: number;
}

/** Mix enumeration and bounded search over counts, keeping the best few by predicted tail. */
class MixSearch {
  evaluated = 0;
  readonly top: Scored[] = [];
  private readonly seen = new Set<string>();
  /** Busiest pool's utilization of each kept part of the current fleet (transitionPenalty). */
  private readonly keptUtilization = new Map<string, number>();

  constructor(
    private readonly model: PerformanceModel,
    private readonly price: readonly number[],
    private readonly lo: readonly number[],
    private readonly hi: readonly number[],
    private readonly budget: number,
    private readonly keep: number,
    private readonly current: readonly number[],
    private readonly transitionMaxUtilization: number,
    private readonly surgeModel: PerformanceModel | null,
    private readonly sharedQueue: boolean,
  ) {}

  evaluate(counts: readonly number[]): Scored {
    this.evaluated++;
    const prediction = this.model.predict(counts, false);
    const base = mixKey(this.model, counts, prediction, this.sharedQueue);
    const penalty = this.transitionPenalty(counts) + this.surgePenalty(counts);
    return { counts: [...counts], prediction, key: base + penalty, base, penalty };
  }

  /** 100 when the mix would be overloaded at the surge load. */
  private surgePenalty(counts: readonly number[]): number {
    if (this.surgeModel === null) return 0;
    this.evaluated++;
    return this.surgeModel.predict(counts, false).maxUtilization >= 1 ? 100 : 0;
  }

  /** 1000 when moving from the current fleet to `counts` would leave too little capacity while launches boot. */
  private transitionPenalty(counts: readonly number[]): number {
    let terminates = false;
    let launches = false;
    let any = false;
    const shared = this.current.map((n, i) => {
      if (n > 0) any = true;
      if (counts[i]! < n) terminates = true;
      if (counts[i]! > n) launches = true;
      return Math.min(n, counts[i]!);
    });
    if (!any || !terminates || !launches) return 0;
    if (shared.every((n) => n === 0)) return 1000;
    // Many candidate mixes keep the same part of the current fleet: predict each part once.
    const key = shared.join(',');
    let util = this.keptUtilization.get(key);
    if (util === undefined) {
      this.evaluated++;
      util = this.model.predict(shared, false).maxUtilization;
      this.keptUtilization.set(key, util);
    }
    return util >= this.transitionMaxUtilization ? 1000 : 0;
  }

  private consider(counts: readonly number[]): Scored | undefined {
    const id = counts.join(',');
    if (this.seen.has(id)) return undefined;
    this.seen.add(id);
    if (counts.every((n) => n === 0)) return undefined;
    const s = this.evaluate(counts);
    const usd = this.cost(s.counts);
    let i = this.top.length;
    // Ties (same predicted tail): the cheaper mix first.
    while (i > 0 && (this.top[i - 1]!.key > s.key + 1e-9 || (Math.abs(this.top[i - 1]!.key - s.key) <= 1e-9 && this.cost(this.top[i - 1]!.counts) > usd))) i--;
    if (i < this.keep) {
      this.top.splice(i, 0, s);
      if (this.top.length > this.keep) this.top.pop();
    }
    return s;
  }

  private cost(counts: readonly number[]): number {
    let u = 0;
    for (let i = 0; i < counts.length; i++) u += counts[i]! * this.price[i]!;
    return u;
  }

  /** Whether one more instance of some type still fits. */
  private maximal(counts: readonly number[], usd: number): boolean {
    for (let i = 0; i < counts.length; i++) if (counts[i]! < this.hi[i]! && usd + this.price[i]! <= this.budget + 1e-9) return false;
    return true;
  }

  /** Counts maximal mixes, stopping past `limit`. */
  countMaximal(limit: number): number {
    let n = 0;
    this.walk(0, [...this.lo], this.cost(this.lo), () => {
      n++;
      return n <= limit;
    });
    return n;
  }

  enumerate(): void {
    this.walk(0, [...this.lo], this.cost(this.lo), (c) => {
      this.consider(c);
      return true;
    });
  }

  private walk(i: number, counts: number[], usd: number, visit: (c: readonly number[]) => boolean): boolean {
    if (i === counts.length) return this.maximal(counts, usd) ? visit(counts) : true;
    const base = counts[i]!;
    for (let n = base; n <= this.hi[i]!; n++) {
      const extra = (n - base) * this.price[i]!;
      if (usd + extra > this.budget + 1e-9) break;
      counts[i] = n;
      if (!this.walk(i + 1, counts, usd + extra, visit)) {
        counts[i] = base;
        return false;
      }
    }
    counts[i] = base;
    return true;
  }

  /** Fills the remaining budget with type j (as many as fit). */
  private fill(counts: number[], j: number): void {
    const room = Math.floor((this.budget - this.cost(counts) + 1e-9) / this.price[j]!);
    counts[j] = Math.min(this.hi[j]!, counts[j]! + Math.max(0, room));
  }

  bounded(fast: readonly boolean[]): void {
    const P = this.price.length;
    const keepTypes = this.undominated(fast);
    // One- and two-type mixes: count of a from its range (coarse, then refined), rest filled with b.
    for (const a of keepTypes) {
      for (const b of keepTypes) {
        if (b < a) continue;
        const maxA = Math.min(this.hi[a]!, Math.floor((this.budget - this.cost(this.lo)) / this.price[a]!) + this.lo[a]!);
        const at = (na: number): Scored | undefined => {
          const c = [...this.lo];
          c[a] = Math.max(this.lo[a]!, na);
          if (this.cost(c) > this.budget + 1e-9) return undefined;
          if (b !== a) this.fill(c, b);
          for (let j = 0; j < P; j++) this.fill(c, j);
          return this.consider(c);
        };
        if (a === b) {
          at(maxA);
          continue;
        }
        const step = Math.max(1, Math.ceil((maxA - this.lo[a]! + 1) / 8));
        let bestN = this.lo[a]!;
        let bestKey = Infinity;
        for (let na = this.lo[a]!; na <= maxA; na += step) {
          const s = at(na);
          if (s !== undefined && s.key < bestKey) {
            bestKey = s.key;
            bestN = na;
          }
        }
        // Refine around the best coarse point by halving steps (the tail is close to unimodal in na).
        for (let h = step; h > 1; ) {
          h = Math.ceil(h / 2);
          for (const na of [bestN - h, bestN + h]) {
            if (na < this.lo[a]! || na > maxA) continue;
            const s = at(na);
            if (s !== undefined && s.key < bestKey) {
              bestKey = s.key;
              bestN = na;
            }
          }
        }
      }
    }
    // Local search from the best: move one instance's worth of budget between types.
    for (let round = 0; round < 20 && this.top.length > 0; round++) {
      const start = this.top[0]!;
      let improved = false;
      for (const i of keepTypes) {
        for (const j of keepTypes) {
          if (i === j || start.counts[i]! <= this.lo[i]!) continue;
          const c = [...start.counts];
          c[i]!--;
          this.fill(c, j);
          for (const t of keepTypes) this.fill(c, t);
          const s = this.consider(c);
          if (s !== undefined && s.key < start.key - 1e-9) improved = true;
        }
      }
      if (!improved) break;
    }
  }

  /**
   * Types worth searching: a type is dropped when another of the same kind (fast or frugal) is no
   * slower for every class and size and no dearer per request served.
   */
  private undominated(fast: readonly boolean[]): number[] {
    const P = this.price.length;
    const stats = this.model.types.map((t, i) => {
      return t.columns.map((col, k) => {
        const w = this.model.classes[k]!.sizes.weights;
        let m = 0;
        let covered = true;
        for (let j = 0; j < w.length; j++) {
          if (!Number.isFinite(col.meanMs[j]!)) covered = false;
          else m += w[j]! * col.meanMs[j]!;
        }
        return { meanMs: m, covered, usdPerReq: (this.price[i]! * m) / t.slots };
      });
    });
    const out: number[] = [];
    for (let b = 0; b < P; b++) {
      if (this.hi[b]! === 0) continue;
      let dominated = false;
      for (let a = 0; a < P && !dominated; a++) {
        // A type capped below b (in capacity cooldown, or a low maxCount) cannot take b's place.
        if (a === b || this.hi[a]! < this.hi[b]! || fast[a] !== fast[b]) continue;
        let allNoWorse = true;
        let someBetter = false;
        for (let k = 0; k < stats[a]!.length; k++) {
          const x = stats[a]![k]!;
          const y = stats[b]![k]!;
          if ((y.covered && !x.covered) || x.meanMs > y.meanMs || x.usdPerReq > y.usdPerReq) allNoWorse = false;
          if (x.meanMs < y.meanMs || x.usdPerReq < y.usdPerReq) someBetter = true;
        }
        dominated = allNoWorse && (someBetter || a < b);
      }
      if (!dominated) out.push(b);
    }
    return out;
  }
}
