import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MixscaleError, ProfileGapError } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';

/** Kairos' measured service times, compacted (see infra/profiles/README.md). */
const DEFAULT_PROFILES_PATH = fileURLToPath(new URL('../../infra/profiles/kairos.csv', import.meta.url));

/** Quantile knots stored per measured cell, as fractions. */
export const PROFILE_KNOTS = [0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1] as const;

/**
 * Measured service times of one model on one instance type across request sizes (Kairos'
 * batch sizes). A request of size s between two measured sizes gets values interpolated
 * linearly between them; below the smallest measured size it is served as that size (the
 * smallest batch the server runs, as Kairos pads queries up to a multiple of 10); above the
 * largest there is no data and lookups throw ProfileGapError instead of guessing.
 */
export class ProfileTable {
  readonly type: string;
  readonly model: string;
  readonly sizes: Float64Array;
  readonly means: Float64Array;
  readonly scvs: Float64Array;
  /** knots[k * n + i]: knot k at size index i. */
  private readonly knots: Float64Array;
  private readonly n: number;
  private readonly uniformStep: number;

  constructor(type: string, model: string, rows: ReadonlyArray<{ size: number; meanMs: number; scv: number; knots: readonly number[] }>) {
    if (rows.length === 0) throw new ProfileGapError(`no measurements for ${model} on ${type}`, { type, model });
    const sorted = [...rows].sort((a, b) => a.size - b.size);
    this.type = type;
    this.model = model;
    this.n = sorted.length;
    this.sizes = Float64Array.from(sorted, (r) => r.size);
    this.means = Float64Array.from(sorted, (r) => r.meanMs);
    this.scvs = Float64Array.from(sorted, (r) => r.scv);
    this.knots = new Float64Array(PROFILE_KNOTS.length * this.n);
    sorted.forEach((r, i) => r.knots.forEach((v, k) => (this.knots[k * this.n + i] = v)));
    const step = this.n > 1 ? this.sizes[1]! - this.sizes[0]! : 0;
    let uniform = step > 0;
    for (let i = 2; i < this.n && uniform; i++) uniform = Math.abs(this.sizes[i]! - this.sizes[i - 1]! - step) < 1e-9;
    this.uniformStep = uniform ? step : 0;
  }

  get minSize(): number {
    return this.sizes[0]!;
  }

  get maxSize(): number {
    return this.sizes[this.n - 1]!;
  }

  covers(size: number): boolean {
    return size > 0 && size <= this.maxSize;
  }

  /** Mean service time (ms) for a request of this size. */
  meanMs(size: number): number {
    return this.interp(this.means, 0, size);
  }

  /** Squared coefficient of variation of the service time at this size. */
  scv(size: number): number {
    return this.interp(this.scvs, 0, size);
  }

  /** The q-quantile (0..1) of the service time at this size, interpolated between knots. */
  quantileMs(size: number, q: number): number {
    const k = knotPosition(q);
    const lo = Math.floor(k);
    const hi = Math.min(lo + 1, PROFILE_KNOTS.length - 1);
    const a = this.interp(this.knots, lo * this.n, size);
    if (hi === lo) return a;
    const b = this.interp(this.knots, hi * this.n, size);
    return a + (b - a) * (k - lo);
  }

  /** One service time drawn from the measured distribution (inverse CDF over the knots). */
  sample(size: number, rng: Rng): number {
    return this.quantileMs(size, rng.next());
  }

  private interp(arr: Float64Array, offset: number, size: number): number {
    const n = this.n;
    if (!(size <= this.sizes[n - 1]!)) {
      throw new ProfileGapError(
        `no service-time data for ${this.model} on ${this.type} at size ${size}: measured sizes are ${this.sizes[0]}..${this.sizes[n - 1]}`,
        { type: this.type, model: this.model, size, maxSize: this.sizes[n - 1] },
      );
    }
    if (size <= this.sizes[0]!) return arr[offset]!;
    let i: number;
    if (this.uniformStep > 0) {
      i = Math.min(n - 2, Math.floor((size - this.sizes[0]!) / this.uniformStep));
    } else {
      let lo = 0;
      let hi = n - 1;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (this.sizes[mid]! <= size) lo = mid;
        else hi = mid;
      }
      i = lo;
    }
    const s0 = this.sizes[i]!;
    const s1 = this.sizes[i + 1]!;
    const v0 = arr[offset + i]!;
    const v1 = arr[offset + i + 1]!;
    return v0 + ((v1 - v0) * (size - s0)) / (s1 - s0);
  }
}

function knotPosition(q: number): number {
  const last = PROFILE_KNOTS.length - 1;
  if (!(q > 0)) return 0;
  if (q >= 1) return last;
  // Every knot is a multiple of 0.01: the hundredth q falls in fixes its segment.
  const k = KNOT_SEGMENT[Math.floor(q * 100)]!;
  const a = PROFILE_KNOTS[k]!;
  const b = PROFILE_KNOTS[k + 1]!;
  return k + (q - a) / (b - a);
}

/** KNOT_SEGMENT[i]: the knot segment [PROFILE_KNOTS[k], PROFILE_KNOTS[k + 1]) that holds q = i / 100. */
const KNOT_SEGMENT = ((): Uint8Array => {
  const t = new Uint8Array(101);
  let k = 0;
  for (let i = 0; i <= 100; i++) {
    while (k < PROFILE_KNOTS.length - 2 && PROFILE_KNOTS[k + 1]! <= i / 100 + 1e-12) k++;
    t[i] = k;
  }
  return t;
})();

/** Every measured (type, model) table, loaded from one or more profile CSVs. */
export class ServiceProfiles {
  private readonly tables = new Map<string, ProfileTable>();

  constructor(tables: Iterable<ProfileTable>) {
    for (const t of tables) this.tables.set(key(t.type, t.model), t);
  }

  /**
   * Reads a profile CSV: `instance,model,batch,n,mean_ms,scv,q0,q1,...,q100`. Errors name the
   * file and line.
   */
  static load(path: string = DEFAULT_PROFILES_PATH): ServiceProfiles {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `cannot read profiles ${path}: ${(e as Error).message}`, { file: path });
    }
    const lines = text.split('\n');
    const expected = `instance,model,batch,n,mean_ms,scv,${PROFILE_KNOTS.map((q) => `q${q * 100}`).join(',')}`;
    if (lines[0]?.trim() !== expected) {
      throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `${path}:1: expected header "${expected}"`, { file: path, line: 1 });
    }
    const rows = new Map<string, Array<{ size: number; meanMs: number; scv: number; knots: number[] }>>();
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '') continue;
      const f = line.split(',');
      const bad = (msg: string): never => {
        throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `${path}:${i + 1}: ${msg}`, { file: path, line: i + 1 });
      };
      if (f.length !== 6 + PROFILE_KNOTS.length) bad(`expected ${6 + PROFILE_KNOTS.length} fields (${expected}), got ${f.length}`);
      const columns = expected.split(',');
      const nums = f.slice(2).map((text, j) => {
        const x = Number(text);
        if (text.trim() === '' || !Number.isFinite(x) || x < 0) bad(`${columns[j + 2]}: expected a non-negative number, got ${JSON.stringify(text)}`);
        return x;
      });
      if (f[0]!.trim() === '' || f[1]!.trim() === '') bad(`instance and model: expected names, got ${JSON.stringify(f[0])} and ${JSON.stringify(f[1])}`);
      if (!(nums[0]! > 0)) bad(`batch: expected a size above 0, got ${nums[0]}`);
      // A zero service time is infinite capacity: every plan would put the load there.
      if (!(nums[2]! > 0)) bad(`mean_ms: expected a service time above 0, got ${nums[2]}`);
      // Quantile knots of one distribution cannot fall as the quantile rises.
      for (let q = 5; q < nums.length; q++) if (nums[q]! < nums[q - 1]!) bad(`${columns[q + 2]}: ${nums[q]} is below ${columns[q + 1]} (${nums[q - 1]}); quantiles must not decrease`);
      const k = key(f[0]!, f[1]!);
      let list = rows.get(k);
      if (list === undefined) rows.set(k, (list = []));
      if (list.some((r) => r.size === nums[0]!)) bad(`${f[0]} ${f[1]} batch ${nums[0]} is measured twice`);
      list.push({ size: nums[0]!, meanMs: nums[2]!, scv: nums[3]!, knots: nums.slice(4) });
    }
    return new ServiceProfiles([...rows].map(([k, r]) => {
      const [type, model] = k.split('\u0000') as [string, string];
      return new ProfileTable(type, model, r);
    }));
  }

  has(type: string, model: string): boolean {
    return this.tables.has(key(type, model));
  }

  /** The table for (type, model), or ProfileGapError naming what is covered. */
  table(type: string, model: string): ProfileTable {
    const t = this.tables.get(key(type, model));
    if (t === undefined) {
      const models = this.modelsFor(type);
      throw new ProfileGapError(
        models.length === 0
          ? `no service-time profile for instance type "${type}" (profiled types: ${this.types().join(', ')})`
          : `no service-time profile for model "${model}" on ${type} (profiled models there: ${models.join(', ')})`,
        { type, model },
      );
    }
    return t;
  }

  types(): string[] {
    return [...new Set([...this.tables.values()].map((t) => t.type))].sort();
  }

  models(): string[] {
    return [...new Set([...this.tables.values()].map((t) => t.model))].sort();
  }

  modelsFor(type: string): string[] {
    return [...this.tables.values()].filter((t) => t.type === type).map((t) => t.model).sort();
  }

  /** Per type: which models are measured and over which sizes. */
  coverage(type: string): Array<{ model: string; minSize: number; maxSize: number; points: number }> {
    return [...this.tables.values()]
      .filter((t) => t.type === type)
      .sort((a, b) => (a.model < b.model ? -1 : 1))
      .map((t) => ({ model: t.model, minSize: t.minSize, maxSize: t.maxSize, points: t.sizes.length }));
  }
}

function key(type: string, model: string): string {
  return `${type}\u0000${model}`;
}
