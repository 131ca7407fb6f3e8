import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MixscaleError } from '../core/errors.ts';
import type { InstanceType } from '../core/types.ts';

/** The bundled EC2 us-east-1 catalog (see infra/catalog/README.md for provenance). */
export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../../infra/catalog/ec2-us-east-1.json', import.meta.url));

interface RawEntry {
  type: string;
  vcpu: number;
  memoryGiB: number;
  gpu: InstanceType['gpu'];
  accelerator: InstanceType['accelerator'];
  arch: InstanceType['arch'];
  onDemandUsdPerHour: number;
}

/** Instance types by name, with prices. Prices may be overridden (config, or a price change at run time). */
export class Catalog {
  private readonly byName: Map<string, InstanceType>;

  constructor(types: Iterable<InstanceType>) {
    this.byName = new Map();
    for (const t of types) this.byName.set(t.name, t);
  }

  static load(path: string = DEFAULT_CATALOG_PATH): Catalog {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `cannot read catalog ${path}: ${(e as Error).message}`, { file: path });
    }
    if (!Array.isArray(raw)) {
      throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `catalog ${path}: expected a JSON array of instance types`, { file: path });
    }
    return new Catalog(
      (raw as RawEntry[]).map((e, i) => {
        if (typeof e.type !== 'string' || typeof e.onDemandUsdPerHour !== 'number' || !(e.onDemandUsdPerHour > 0)) {
          throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `catalog ${path}: entry [${i}] needs a "type" and a positive "onDemandUsdPerHour"`, { file: path, index: i });
        }
        return {
          name: e.type,
          vcpu: e.vcpu,
          memoryGiB: e.memoryGiB,
          gpu: e.gpu,
          accelerator: e.accelerator,
          arch: e.arch,
          usdPerHour: e.onDemandUsdPerHour,
        };
      }),
    );
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The type, or an error naming close matches. */
  get(name: string): InstanceType {
    const t = this.byName.get(name);
    if (t === undefined) {
      const near = this.suggest(name);
      throw new MixscaleError(
        'MIXSCALE_CATALOG_UNKNOWN_TYPE',
        `unknown instance type "${name}"${near.length > 0 ? ` (did you mean ${near.map((n) => `"${n}"`).join(', ')}?)` : ''}`,
        { type: name, suggestions: near },
      );
    }
    return t;
  }

  price(name: string): number {
    return this.get(name).usdPerHour;
  }

  all(): InstanceType[] {
    return [...this.byName.values()];
  }

  /** A copy with some prices replaced (config overrides, or a price change observed at run time). */
  withPrices(prices: Readonly<Record<string, number>>): Catalog {
    const next = new Map(this.byName);
    for (const [name, usd] of Object.entries(prices)) {
      next.set(name, { ...this.get(name), usdPerHour: usd });
    }
    return new Catalog(next.values());
  }

  /** Whether the type is a "fast" (accelerated) type: it has a GPU or an inference accelerator. */
  isAccelerated(name: string): boolean {
    const t = this.get(name);
    return (t.gpu !== null && t.gpu.count > 0) || t.accelerator !== null;
  }

  private suggest(name: string): string[] {
    const family = name.split('.')[0] ?? name;
    return [...this.byName.keys()]
      .map((n) => ({ n, d: editDistance(n, name) }))
      .filter(({ n, d }) => d <= 3 || n.startsWith(`${family}.`))
      .sort((a, b) => a.d - b.d || (a.n < b.n ? -1 : 1))
      .slice(0, 3)
      .map(({ n }) => n);
  }
}

export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
