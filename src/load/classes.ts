import { MixscaleError } from '../core/errors.ts';
import type { Rng } from '../core/rng.ts';

/** Request classes the load generator labels requests with, by share (`interactive:0.3,batch:0.7`). */
export interface ClassMix {
  readonly names: readonly string[];
  /** Cumulative shares, last = 1. */
  readonly cumulative: readonly number[];
}

export function parseClassMix(text: string): ClassMix {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new MixscaleError('MIXSCALE_USAGE', '--classes: expected name:share[,name:share...]');
  const names: string[] = [];
  const shares: number[] = [];
  for (const p of parts) {
    const [name, share = '1', extra] = p.split(':');
    const s = Number(share);
    if (extra !== undefined || name === undefined || !/^[a-z0-9][a-z0-9_-]*$/i.test(name) || !(s > 0)) {
      throw new MixscaleError('MIXSCALE_USAGE', `--classes: "${p}" is not name:share with a positive share (e.g. interactive:0.3)`);
    }
    if (name === 'all') throw new MixscaleError('MIXSCALE_USAGE', '--classes: "all" names the total over every class in the report; give the class another name');
    if (names.includes(name)) throw new MixscaleError('MIXSCALE_USAGE', `--classes: class "${name}" is given twice; give each class once with its share`);
    names.push(name);
    shares.push(s);
  }
  const total = shares.reduce((a, b) => a + b, 0);
  let acc = 0;
  const cumulative = shares.map((s) => (acc += s / total));
  cumulative[cumulative.length - 1] = 1;
  return { names, cumulative };
}

export function pickClass(mix: ClassMix, rng: Rng): string {
  const u = rng.next();
  const i = mix.cumulative.findIndex((c) => u < c);
  return mix.names[i < 0 ? mix.names.length - 1 : i]!;
}
