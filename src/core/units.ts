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

/**
 * A fraction as a percentage with `digits` decimals, rounded to nearest, except that a fraction
 * below 1 never reads 100: it gets as many more decimals as it takes (0.99995 → 99.995%), so a
 * run that missed or dropped a single request (or a prediction short of 1) never looks perfect.
 */
export function percent(v: number, digits: number): string {
  let s = (v * 100).toFixed(digits);
  for (let d = digits + 1; v < 1 && Number(s) >= 100 && d <= 12; d++) s = (v * 100).toFixed(d);
  if (v < 1 && Number(s) >= 100) s = `99.${'9'.repeat(12)}`;
  return `${s}%`;
}

/** Seconds for a table: whole ones as they are, else one decimal; under 0.1 s but not 0 reads <0.1. */
export function formatSeconds(s: number): string {
  if (Number.isInteger(s)) return String(s);
  return s < 0.1 ? '<0.1' : s.toFixed(1);
}

/**
 * `x` to `digits` decimals, the same for one sum whatever order its terms were added in: a half
 * is rounded up after float noise is cut at 12 significant digits (0.432 + 7 × 0.149 is
 * 1.4749999999999999 one way and 1.475 the other; both read 1.48, where toFixed gave 1.47 and 1.48).
 * The noise is cut once scaled, since scaling adds its own (1.005 × 100 is 100.49999999999999).
 */
export function fixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return x.toFixed(digits);
  const scale = 10 ** digits;
  return (Math.round(Number((x * scale).toPrecision(12))) / scale).toFixed(digits);
}

export function formatUsd(usd: number): string {
  return `$${fixed(usd, usd >= 100 ? 0 : usd >= 1 ? 2 : 3)}`;
}

/**
 * A JSON.stringify replacer for every JSON output (sim, plan, controller): every float to 6
 * significant digits, but never into its whole part (a time in ms keeps its
 * ms), and to at most 6 decimals ($/h to the millionth of a dollar; noise around 0, such as a
 * p99 of 5.8e-11 ms, reads 0).
 */
export function roundedFloats(_key: string, value: unknown): unknown {
  if (typeof value !== 'number' || !Number.isFinite(value) || Number.isInteger(value)) return value;
  const whole = Math.floor(Math.log10(Math.abs(value))) + 1;
  return Number(Number(value.toPrecision(Math.min(100, Math.max(6, whole)))).toFixed(6)) || 0;
}
