/** Durations in config: a number of ms, or a string with a unit (`250ms`, `30s`, `5m`, `2h`, `1d`). */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDurationMs(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (m === null) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1);
  // Four hundred digits parse to Infinity: not a duration.
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * A number written in decimal (`12`, `0.5`, `1e3`), else NaN: Number() alone also takes `0x10`,
 * `0b11` and '' (as 0), which no one means on a command line or in a trace.
 */
export function decimal(text: string): number {
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : NaN;
}

export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export function formatUsd(usd: number): string {
  return `$${usd.toFixed(usd >= 100 ? 0 : usd >= 1 ? 2 : 3)}`;
}
