import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { InstanceType } from '../core/types.ts';
import { MixscaleError } from '../core/errors.ts';

/** The bundled EC2 us-east-1 catalog (see infra/catalog/README.md for provenance). */
const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../../infra/catalog/ec2-us-east-1.json', import.meta.url));

const count = z.number().int().nonnegative();
/** One catalog entry, as infra/catalog/README.md shows it (other keys are ignored). */
const entrySchema = z.object({
  type: z.string().min(1),
  vcpu: z.number().positive(),
  memoryGiB: z.number().nonnegative(),
  gpu: z.object({ count, name: z.string(), manufacturer: z.string(), memoryGiB: z.number().nonnegative() }).nullable(),
  accelerator: z.object({ count, name: z.string(), manufacturer: z.string() }).nullable(),
  arch: z.enum(['x86_64', 'arm64']),
  onDemandUsdPerHour: z.number().positive(),
});

/** Longer than any EC2 type name (the longest are about 20 characters). */
const MAX_TYPE_NAME = 64;

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
      // A byte-order mark is not JSON, but editors write one: read past it.
      raw = JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
    } catch (e) {
      throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `cannot read catalog ${path}: ${readError(e)}`, { file: path });
    }
    if (!Array.isArray(raw)) {
      throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `catalog ${path}: expected a JSON array of instance types`, { file: path });
    }
    const seen = new Map<string, number>();
    return new Catalog(
      raw.map((e: unknown, i) => {
        const r = entrySchema.safeParse(e);
        if (!r.success) {
          const issue = r.error.issues[0]!;
          const name = e !== null && typeof e === 'object' && typeof (e as { type?: unknown }).type === 'string' ? ` (${(e as { type: string }).type})` : '';
          const field = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
          const missing = issue.path.length > 0 && e !== null && typeof e === 'object' && !(String(issue.path[0]) in e);
          throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `catalog ${path}: entry [${i}]${name}: ${field}${missing ? 'missing' : issue.message} (see infra/catalog/README.md for an entry's fields)`, { file: path, index: i });
        }
        const t = r.data;
        const before = seen.get(t.type);
        if (before !== undefined) throw new MixscaleError('MIXSCALE_CATALOG_INVALID', `catalog ${path}: entry [${i}] (${t.type}): the type is listed already, at entry [${before}]; list each type once`, { file: path, index: i });
        seen.set(t.type, i);
        return { name: t.type, vcpu: t.vcpu, memoryGiB: t.memoryGiB, gpu: t.gpu, accelerator: t.accelerator, arch: t.arch, usdPerHour: t.onDemandUsdPerHour };
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
      // Type names are short: a long one is no typo to suggest for (its edit distances took seconds), nor one to echo whole.
      const long = name.length > MAX_TYPE_NAME;
      const near = long ? [] : this.suggest(name);
      throw new MixscaleError(
        'MIXSCALE_CATALOG_UNKNOWN_TYPE',
        `unknown instance type "${long ? `${name.slice(0, MAX_TYPE_NAME)}…" (${name.length} characters)` : `${name}"`}${near.length > 0 ? ` (did you mean ${near.map((n) => `"${n}"`).join(', ')}?)` : ''}`,
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

/** Why a catalog file could not be read or parsed, in one line. */
function readError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  return (e as Error).message.replace(/\s*\n\s*/g, ' ');
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
