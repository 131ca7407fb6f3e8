import type { SizePmf } from '../core/sizes.ts';
import type { PredictedLatency } from '../core/types.ts';
import { mgcWait, type WaitLaw } from './queueing.ts';
import type { ServiceColumn } from './service.ts';
import { ResponseTail } from './tail.ts';

/** An instance type as the model sees it: its service times for every class (same order as the classes). */
export interface ModelType {
  readonly type: string;
  readonly fast: boolean;
  /** Requests one instance serves at once: each slot is a server of the pool. */
  readonly slots: number;
  readonly usdPerHour: number;
  readonly columns: readonly ServiceColumn[];
}

export interface ModelClass {
  readonly name: string;
  readonly sloMs: number;
  readonly sloQuantile: number;
  readonly rps: number;
  readonly sizes: SizePmf;
}

export interface ModelOptions {
  /**
   * A request whose service time on a frugal type exceeds this fraction of its SLO is
   * routed to fast types only (when the mix has any): the heterogeneity-aware router's rule.
   */
  readonly largeFraction: number;
  /** Fixed-point iterations when balancing the routing split (the router's adaptive behaviour). */
  readonly splitIterations: number;
}

const COVERS = 1;
const PREFERRED = 2;

const DEFAULT_MODEL_OPTIONS: ModelOptions = { largeFraction: 1, splitIterations: 30 };

export interface PoolPrediction {
  readonly type: string;
  readonly count: number;
  readonly rps: number;
  /** Busy fraction of the pool's servers (≥ 1: overloaded). */
  readonly utilization: number;
  readonly meanWaitMs: number;
}

export interface MixPrediction {
  readonly pools: readonly PoolPrediction[];
  /** Per class, in the order of the model's classes. */
  readonly classes: readonly PredictedLatency[];
  /** Per class: fraction of its traffic each type receives. */
  readonly split: ReadonlyArray<Readonly<Record<string, number>>>;
  /** Worst ratio over classes of the predicted SLO quantile to the SLO (≤ 1: every SLO met). */
  readonly score: number;
  /** Worst ratio over classes of the predicted mean latency to the SLO: breaks ties between equal tails. */
  readonly meanScore: number;
  readonly maxUtilization: number;
}

/**
 * The performance model: for a mix (counts per type), a load and the routing the
 * heterogeneity-aware router does, each pool's utilization and each class's percentiles.
 *
 * Routing: requests too slow for frugal types (service > largeFraction × SLO) go to fast types;
 * the rest are split among the types that can serve them so that their mean response times
 * (wait + service) equalize, the Wardrop equilibrium that shortest-expected-delay routing tends
 * to. Each pool is then an M/G/c queue (see queueing.ts) fed by its share, and a class's
 * response time is the mixture over pools and size bins of wait + size-dependent service.
 */
export class PerformanceModel {
  readonly types: readonly ModelType[];
  readonly classes: readonly ModelClass[];
  readonly options: ModelOptions;
  private readonly nBins: number[];
  /** Per class and bin: arrival rate (per ms). */
  private readonly binRate: Float64Array[];
  private readonly maxBins: number;
  /** Scratch for one class's response-time mixture: per pool, its (service, probability) points. */
  private readonly svcBuf: Float64Array;
  private readonly probBuf: Float64Array;
  private readonly nBuf: Int32Array;
  private readonly rt: ResponseTail;
  private readonly tail: (x: number) => number;
  /**
   * Per class, per type and size bin (index type × bins + bin): COVERS when the type's profile
   * covers the bin, PREFERRED when the heterogeneity-aware rule lets it serve the bin while a
   * fast type is in the mix (fast, or within largeFraction of the SLO). Fixed for the model's life.
   */
  private readonly binFlags: Uint8Array[];
  /** Per class, per type: whether the type serves any of the class's sizes. */
  private readonly coversClass: boolean[][];

  constructor(types: readonly ModelType[], classes: readonly ModelClass[], options: Partial<ModelOptions> = {}) {
    this.types = types;
    this.classes = classes;
    this.options = { ...DEFAULT_MODEL_OPTIONS, ...options };
    this.nBins = classes.map((c) => c.sizes.sizes.length);
    this.binRate = classes.map((c) => Float64Array.from(c.sizes.weights, (w) => (w * c.rps) / 1000));
    this.maxBins = Math.max(1, ...this.nBins);
    this.svcBuf = new Float64Array(types.length * this.maxBins);
    this.probBuf = new Float64Array(types.length * this.maxBins);
    this.nBuf = new Int32Array(types.length);
    this.rt = new ResponseTail(types.length, this.maxBins);
    this.tail = (x) => this.rt.tail(x);
    const lf = this.options.largeFraction;
    this.binFlags = classes.map((c, k) => {
      const nb = this.nBins[k]!;
      const flags = new Uint8Array(types.length * nb);
      types.forEach((t, p) => {
        for (let j = 0; j < nb; j++) {
          const m = t.columns[k]!.meanMs[j]!;
          if (!Number.isFinite(m)) continue;
          flags[p * nb + j] = COVERS | (t.fast || m <= lf * c.sloMs ? PREFERRED : 0);
        }
      });
      return flags;
    });
    this.coversClass = classes.map((_, k) => types.map((_t, p) => this.binFlags[k]!.subarray(p * this.nBins[k]!, (p + 1) * this.nBins[k]!).some((f) => (f & COVERS) !== 0)));
  }

  /** Whether the mix leaves some class with traffic wholly unserved (none of its types serves any of its sizes). */
  dropsAClass(counts: ArrayLike<number>): boolean {
    for (let k = 0; k < this.classes.length; k++) {
      if (!(this.classes[k]!.rps > 0)) continue;
      const covers = this.coversClass[k]!;
      let served = false;
      for (let p = 0; p < covers.length && !served; p++) served = covers[p]! && (counts[p] ?? 0) > 0;
      if (!served) return true;
    }
    return false;
  }

  /**
   * Where the heterogeneity-aware router may send each request of a mix: the types with instances
   * (`active`, indexes into `types`), per class and size bin a bitmask over `active` of the pools
   * that may serve it (the preferred ones, else any whose profile covers it; 0: none), and the
   * arrival rate (per ms) no pool can serve.
   */
  routable(counts: ArrayLike<number>): { active: number[]; eligible: Uint32Array[]; unservedRate: number } {
    const active: number[] = [];
    let anyFast = false;
    for (let p = 0; p < this.types.length; p++) {
      if ((counts[p] ?? 0) > 0) {
        active.push(p);
        if (this.types[p]!.fast) anyFast = true;
      }
    }
    const eligible: Uint32Array[] = [];
    let unservedRate = 0;
    for (let k = 0; k < this.classes.length; k++) {
      const nb = this.nBins[k]!;
      const e = new Uint32Array(nb);
      const flags = this.binFlags[k]!;
      for (let j = 0; j < nb; j++) {
        let covering = 0;
        let preferred = 0;
        for (let a = 0; a < active.length; a++) {
          const f = flags[active[a]! * nb + j]!;
          if (!(f & COVERS)) continue;
          covering |= 1 << a;
          if (!anyFast || f & PREFERRED) preferred |= 1 << a;
        }
        e[j] = preferred !== 0 ? preferred : covering;
        if (e[j] === 0) unservedRate += this.binRate[k]![j]!;
      }
      eligible.push(e);
    }
    return { active, eligible, unservedRate };
  }

  /**
   * Predicts a mix given as counts in the order of `types`. `full` = false (the planner's search)
   * computes only each class's SLO quantile and attainment, with a coarser split balance.
   */
  predict(counts: ArrayLike<number>, full = true): MixPrediction {
    const K = this.classes.length;
    const { active, eligible, unservedRate } = this.routable(counts);

    const A = active.length;
    const weight = new Float64Array(A);
    for (let a = 0; a < A; a++) weight[a] = (counts[active[a]!] ?? 0) * this.types[active[a]!]!.slots;
    const rate = new Float64Array(A);
    const s1 = new Float64Array(A);
    const s2 = new Float64Array(A);
    const flexRate = new Float64Array(A);
    const flexS = new Float64Array(A);
    const laws: WaitLaw[] = new Array<WaitLaw>(A);

    // Bins that may go to the same set of pools split the same way, and a pool's load is linear
    // in each bin's rate: sum them per set once, so balancing the split iterates over the few
    // distinct sets instead of every class and size bin.
    const groupMask: number[] = [];
    const groupRate: number[] = [];
    const groupM1: Float64Array[] = [];
    const groupM2: Float64Array[] = [];
    for (let k = 0; k < K; k++) {
      const e = eligible[k]!;
      const r = this.binRate[k]!;
      for (let j = 0; j < e.length; j++) {
        const mask = e[j]!;
        if (mask === 0) continue;
        let g = groupMask.indexOf(mask);
        if (g < 0) {
          g = groupMask.length;
          groupMask.push(mask);
          groupRate.push(0);
          groupM1.push(new Float64Array(A));
          groupM2.push(new Float64Array(A));
        }
        const lam = r[j]!;
        groupRate[g]! += lam;
        const m1 = groupM1[g]!;
        const m2 = groupM2[g]!;
        for (let a = 0; a < A; a++) {
          if (!(mask & (1 << a))) continue;
          const col = this.types[active[a]!]!.columns[k]!;
          m1[a]! += lam * col.meanMs[j]!;
          m2[a]! += lam * col.secondMs2[j]!;
        }
      }
    }
    const G = groupMask.length;

    const loadPools = (): void => {
      rate.fill(0);
      s1.fill(0);
      s2.fill(0);
      flexRate.fill(0);
      flexS.fill(0);
      for (let g = 0; g < G; g++) {
        const mask = groupMask[g]!;
        let wsum = 0;
        for (let a = 0; a < A; a++) if (mask & (1 << a)) wsum += weight[a]!;
        const flexible = (mask & (mask - 1)) !== 0;
        const lamG = groupRate[g]!;
        const m1 = groupM1[g]!;
        const m2 = groupM2[g]!;
        for (let a = 0; a < A; a++) {
          if (!(mask & (1 << a))) continue;
          const f = weight[a]! / wsum;
          rate[a]! += lamG * f;
          s1[a]! += m1[a]! * f;
          s2[a]! += m2[a]! * f;
          if (flexible) {
            flexRate[a]! += lamG * f;
            flexS[a]! += m1[a]! * f;
          }
        }
      }
      for (let a = 0; a < A; a++) {
        const lam = rate[a]!;
        const servers = (counts[active[a]!] ?? 0) * this.types[active[a]!]!.slots;
        if (lam === 0) {
          laws[a] = mgcWait(servers, 0, 0, 0);
          continue;
        }
        const m = s1[a]! / lam;
        const scv = Math.max(0, s2[a]! / lam / (m * m) - 1);
        laws[a] = mgcWait(servers, lam, m, scv);
      }
    };

    loadPools();
    // Balance the flexible traffic: shift weight toward pools whose mean response is below average.
    // A quick prediction (the planner's search) balances the split more coarsely.
    const iterations = full ? this.options.splitIterations : Math.min(this.options.splitIterations, 12);
    for (let it = 0; it < iterations && A > 1; it++) {
      let num = 0;
      let den = 0;
      const resp = new Float64Array(A);
      for (let a = 0; a < A; a++) {
        if (flexRate[a]! === 0) {
          resp[a] = NaN;
          continue;
        }
        const r = laws[a]!.meanWaitMs + flexS[a]! / flexRate[a]!;
        resp[a] = r;
        if (Number.isFinite(r)) {
          num += r * flexRate[a]!;
          den += flexRate[a]!;
        }
      }
      const mean = den > 0 ? num / den : NaN;
      let worst = 0;
      for (let a = 0; a < A; a++) {
        const r = resp[a]!;
        if (Number.isNaN(r)) continue;
        // Method of successive averages: shrinking steps, so the split settles instead of
        // oscillating near saturation where response time is steep in the load.
        const step = 1.5 / (it + 2);
        if (!Number.isFinite(r) || !Number.isFinite(mean)) {
          weight[a]! *= Math.exp(-step);
          worst = Infinity;
          continue;
        }
        const gap = (r - mean) / mean;
        worst = Math.max(worst, Math.abs(gap));
        weight[a]! *= Math.exp(-step * Math.max(-1, Math.min(1, gap)));
      }
      if (worst < 0.01) break;
      loadPools();
    }

    let maxUtil = 0;
    const pools: PoolPrediction[] = [];
    for (let a = 0; a < A; a++) {
      maxUtil = Math.max(maxUtil, laws[a]!.rho);
      pools.push({ type: this.types[active[a]!]!.type, count: counts[active[a]!]!, rps: rate[a]! * 1000, utilization: laws[a]!.rho, meanWaitMs: laws[a]!.meanWaitMs });
    }

    const classes: PredictedLatency[] = [];
    const split: Array<Record<string, number>> = [];
    let score = 0;
    let meanScore = 0;
    for (let k = 0; k < K; k++) {
      const c = this.classes[k]!;
      const e = eligible[k]!;
      const w = c.sizes.weights;
      // The class's response-time mixture: per pool, the (service ms, probability) points routed there.
      const nb = e.length;
      const svcOf = this.svcBuf;
      const probOf = this.probBuf;
      const nOf = this.nBuf;
      nOf.fill(0, 0, A);
      let unserved = 0;
      const byType: Record<string, number> = {};
      let mean = 0;
      for (let j = 0; j < e.length; j++) {
        const mask = e[j]!;
        if (mask === 0) {
          unserved += w[j]!;
          continue;
        }
        let wsum = 0;
        for (let a = 0; a < A; a++) if (mask & (1 << a)) wsum += weight[a]!;
        for (let a = 0; a < A; a++) {
          if (!(mask & (1 << a))) continue;
          const pr = (w[j]! * weight[a]!) / wsum;
          const sv = this.types[active[a]!]!.columns[k]!.meanMs[j]!;
          const at = a * this.maxBins + nOf[a]!++;
          svcOf[at] = sv;
          probOf[at] = pr;
          mean += pr * (sv + laws[a]!.meanWaitMs);
          if (full) {
            const name = this.types[active[a]!]!.type;
            byType[name] = (byType[name] ?? 0) + pr;
          }
        }
      }
      const rt = this.rt.reset(unserved);
      for (let a = 0; a < A; a++) if (nOf[a]! > 0) rt.addPool(laws[a]!, svcOf.subarray(a * this.maxBins, a * this.maxBins + nb), probOf.subarray(a * this.maxBins, a * this.maxBins + nb), nOf[a]!);
      const tail = this.tail;
      const sloQ = quantileOf(tail, c.sloQuantile);
      if (c.rps > 0) meanScore = Math.max(meanScore, unserved > 0 ? Infinity : mean / c.sloMs);
      // Clamped: a tail that rounds to just over 1 would read as -0.00% within the SLO.
      const attainment = Math.max(0, 1 - tail(c.sloMs));
      score = Math.max(score, c.rps > 0 ? sloQ / c.sloMs : 0);
      classes.push(
        full
          ? { p50Ms: quantileOf(tail, 0.5), p99Ms: c.sloQuantile === 0.99 ? sloQ : quantileOf(tail, 0.99), p999Ms: quantileOf(tail, 0.999), sloQuantileMs: sloQ, attainment }
          : { p50Ms: NaN, p99Ms: c.sloQuantile === 0.99 ? sloQ : NaN, p999Ms: NaN, sloQuantileMs: sloQ, attainment },
      );
      split.push(byType);
    }
    if (unservedRate > 0 && score < Infinity) score = Math.max(score, 1 + unservedRate);
    return { pools, classes, split, score, meanScore, maxUtilization: maxUtil };
  }
}

/** The q-quantile of a response time given its tail function P(T > x) (Infinity when never reached). */
function quantileOf(tail: (x: number) => number, q: number): number {
  const target = 1 - q;
  let hi = 64;
  while (tail(hi) > target) {
    hi *= 2;
    if (hi > 1e9) return Infinity;
  }
  let lo = 0;
  // 0.1% is far below the model's own error and cuts the evaluations the planner pays for.
  for (let i = 0; i < 40 && hi - lo > 0.001 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tail(mid) > target) lo = mid;
    else hi = mid;
  }
  return hi;
}
