import { MixscaleError } from '../../core/errors.ts';
import type { ExitSpec } from './manifest.ts';

/** Per-request bounds, as OIP v2 request parameters: `latency_ms`, `min_accuracy`, `max_energy`. */
export interface RequestBounds {
  readonly latencyMs?: number;
  readonly minAccuracy?: number;
  readonly maxEnergy?: number;
}

/** Bounds turned into exit limits (0-based stage indexes). */
export interface ResolvedBounds extends RequestBounds {
  /** The earliest exit whose recorded accuracy meets min_accuracy: stages up to it always run. */
  readonly minExit: number;
  /** The last exit whose cumulative energy stays within max_energy. */
  readonly maxExit: number;
}

export function badRequest(field: string, message: string): MixscaleError {
  return new MixscaleError('MIXSCALE_REQUEST_INVALID', `${field}: ${message}`, { field });
}

/** Reads the bounds from `parameters`; a present bound must be a finite number in range. */
export function parseBounds(parameters: Readonly<Record<string, unknown>>): RequestBounds {
  const num = (key: string, check: (v: number) => boolean, allowed: string): number | undefined => {
    const v = parameters[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`parameters.${key}`, `expected a number (${allowed}), got ${JSON.stringify(v)}`);
    if (!check(v)) throw badRequest(`parameters.${key}`, `${v} is out of range; allowed: ${allowed}`);
    return v;
  };
  const latencyMs = num('latency_ms', (v) => v > 0, 'milliseconds > 0');
  const minAccuracy = num('min_accuracy', (v) => v >= 0 && v <= 1, 'a fraction from 0 to 1');
  const maxEnergy = num('max_energy', (v) => v > 0, 'energy > 0, in the model\'s energy unit');
  return {
    ...(latencyMs !== undefined ? { latencyMs } : {}),
    ...(minAccuracy !== undefined ? { minAccuracy } : {}),
    ...(maxEnergy !== undefined ? { maxEnergy } : {}),
  };
}

/**
 * Turns bounds into exit limits and rejects what no exit can honour on this node even when
 * idle: an accuracy above the best exit, an energy below the first, a latency below the
 * fastest exit's median here, or two bounds that exclude each other.
 * `pathMedianMs(k)` is the measured median time to reach exit k (0-based) on an idle node,
 * for the request's `rows` rows.
 */
export function resolveBounds(b: RequestBounds, exits: readonly ExitSpec[], pathMedianMs: (k: number) => number, energyUnit: string, rows = 1): ResolvedBounds {
  const last = exits.length - 1;
  let minExit = 0;
  if (b.minAccuracy !== undefined) {
    const k = exits.findIndex((e) => e.accuracy >= b.minAccuracy!);
    if (k < 0) {
      throw badRequest('parameters.min_accuracy', `${b.minAccuracy} is impossible: the most accurate exit reaches ${exits[last]!.accuracy}`);
    }
    minExit = k;
  }
  let maxExit = last;
  if (b.maxEnergy !== undefined) {
    let k = -1;
    exits.forEach((e, i) => {
      if (e.energy <= b.maxEnergy!) k = i;
    });
    if (k < 0) throw badRequest('parameters.max_energy', `${b.maxEnergy} is impossible: the cheapest exit takes ${exits[0]!.energy} ${energyUnit}`);
    maxExit = k;
  }
  if (maxExit < minExit) {
    throw badRequest(
      'parameters.max_energy',
      `${b.maxEnergy} ${energyUnit} and min_accuracy ${b.minAccuracy} exclude each other: accuracy ${b.minAccuracy} needs exit ${minExit + 1}, which takes ${exits[minExit]!.energy} ${energyUnit}`,
    );
  }
  if (b.latencyMs !== undefined) {
    const need = pathMedianMs(minExit);
    if (b.latencyMs < need) {
      const why = minExit === 0 ? 'the fastest exit' : `exit ${minExit + 1} (needed for min_accuracy ${b.minAccuracy})`;
      const forRows = rows > 1 ? ` for ${rows} rows` : '';
      throw badRequest('parameters.latency_ms', `${b.latencyMs} ms is impossible: ${why} takes ${need.toFixed(2)} ms at the median on this node${forRows}`);
    }
  }
  return { ...b, minExit, maxExit };
}
