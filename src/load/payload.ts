import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MixscaleError } from '../core/errors.ts';

/**
 * What a replayed request carries. `size` (default): a tensor of `size` rows plus
 * `parameters.size`, which the router and the emulated nodes read as the request size.
 * `digits`: `size` real digits from the shipped test set, for the edge node.
 */
export type PayloadKind = 'size' | 'digits';
export const PAYLOAD_KINDS: readonly PayloadKind[] = ['size', 'digits'];

export interface PayloadOptions {
  readonly kind: PayloadKind;
  /** Extra OIP parameters on every request (e.g. `latency_ms` for the edge node). */
  readonly parameters: Readonly<Record<string, number | string | boolean>>;
}

/** Builds request bodies; the digits cycle through the test set so runs are repeatable. */
export class PayloadBuilder {
  private readonly opts: PayloadOptions;
  private readonly digits: readonly number[][];
  private readonly labels: readonly number[];
  private next = 0;

  constructor(opts: PayloadOptions) {
    this.opts = opts;
    const d = opts.kind === 'digits' ? readDigits() : { pixels: [], labels: [] };
    this.digits = d.pixels;
    this.labels = d.labels;
  }

  /** True labels of a digits request, by the `id` it was sent with (`d<first row>x<rows>`). */
  truth(id: string): number[] {
    const m = /^d(\d+)x(\d+)$/.exec(id);
    if (m === null) return [];
    const first = Number(m[1]);
    return Array.from({ length: Number(m[2]) }, (_, i) => this.labels[(first + i) % this.labels.length]!);
  }

  body(size: number, cls: string | undefined): string {
    const parameters: Record<string, unknown> = { ...this.opts.parameters, size };
    if (cls !== undefined) parameters.class = cls;
    if (this.opts.kind === 'size') {
      return JSON.stringify({ inputs: [{ name: 'input', shape: [size, 1], datatype: 'FP32', data: new Array<number>(size).fill(0) }], parameters });
    }
    const data: number[] = [];
    const id = `d${this.next}x${size}`;
    for (let i = 0; i < size; i++) {
      data.push(...this.digits[this.next]!);
      this.next = (this.next + 1) % this.digits.length;
    }
    delete parameters.size;
    return JSON.stringify({ id, inputs: [{ name: 'input', shape: [size, 64], datatype: 'FP32', data }], parameters });
  }
}

const DIGITS_CSV = fileURLToPath(new URL('../../models/digits-cnn/digits-test.csv', import.meta.url));

function readDigits(): { pixels: number[][]; labels: number[] } {
  let text: string;
  try {
    text = readFileSync(DIGITS_CSV, 'utf8');
  } catch (e) {
    throw new MixscaleError('MIXSCALE_USAGE', `--payload digits needs ${DIGITS_CSV}: ${(e as Error).message}`);
  }
  const rows = text.trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  return { pixels: rows.map((r) => r.slice(1)), labels: rows.map((r) => r[0]!) };
}

/** Parses `key=value` (numbers and booleans typed) for --param. */
export function parseParam(text: string): [string, number | string | boolean] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new MixscaleError('MIXSCALE_USAGE', `--param: "${text}" is not key=value (e.g. latency_ms=20)`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  const n = Number(raw);
  const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(n) ? n : raw;
  return [key, value];
}
