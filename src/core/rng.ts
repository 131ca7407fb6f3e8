/**
 * Seeded randomness. xoshiro128** (Blackman & Vigna): 128-bit state, fast with 32-bit integer
 * ops, good statistical quality. Seeded through splitmix32 so nearby seeds give unrelated
 * streams. Policy and simulation code take an Rng and never call Math.random.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN;

  /**
   * `seed` is an integer up to 2^53: its low 32 bits seed the state through splitmix32, and
   * for seeds ≥ 2^32 a second splitmix32 stream of the high bits is mixed into every state word,
   * so 2^32 + k and k give unrelated streams (a seed below 2^32 gives the stream it always gave).
   */
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      return mix32(x);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    const high = seed >= 4294967296 ? Math.floor(seed / 4294967296) >>> 0 : 0;
    if (high !== 0) {
      // Another increment than the low half's, so the two streams never line up.
      let y = high;
      const nextHigh = (): number => {
        y = (y + 0x7f4a7c15) >>> 0;
        return mix32(y ^ 0x5bd1e995);
      };
      this.s0 = (this.s0 ^ nextHigh()) >>> 0;
      this.s1 = (this.s1 ^ nextHigh()) >>> 0;
      this.s2 = (this.s2 ^ nextHigh()) >>> 0;
      this.s3 = (this.s3 ^ nextHigh()) >>> 0;
    }
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] inclusive. */
  intBetween(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** Exponential with the given rate (mean 1/rate). */
  exponential(rate: number): number {
    return -Math.log(1 - this.next()) / rate;
  }

  /** Standard normal (Marsaglia polar method, caching the second value). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    for (;;) {
      const u = 2 * this.next() - 1;
      const v = 2 * this.next() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const m = Math.sqrt((-2 * Math.log(s)) / s);
        this.spare = v * m;
        return u * m;
      }
    }
  }

  /** Lognormal: exp(N(mu, sigma²)), mu and sigma of the underlying normal (numpy's convention). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** A new independent stream derived from this one (for a sub-component). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

/** splitmix32's output mix (murmur3's finalizer). */
function mix32(v: number): number {
  let z = v;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
