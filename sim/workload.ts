import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { isMixscaleError, TraceError } from '../src/core/errors.ts';
import { Rng } from '../src/core/rng.ts';
import { sizeSampler, type SizeSpec } from '../src/core/sizes.ts';
import type { Ms } from '../src/core/types.ts';
import { decimal, formatDuration } from '../src/core/units.ts';

/**
 * Streaming trace readers. A CSV is recognized by its header:
 * - one row per request: `t_ms` plus optional size columns (`size`, `batch`, `input_tokens`,
 *   `output_tokens`), optionally `model`;
 * - a rate series: `t_s` plus `count` (requests in the bin) or `rps`, optionally `model`; the
 *   bin width is the step to the next row (the last bin repeats the previous step) and arrivals
 *   inside a bin are Poisson.
 * Files are read line by line, never whole: memory stays flat in trace length. `peakRps` needs
 * one extra streaming pass to find the busiest minute.
 */

/** Size columns recognized in per-request traces, in the order the default picks them. */
const SIZE_COLUMNS = ['size', 'batch', 'input_tokens', 'output_tokens'] as const;

export interface TraceOptions {
  readonly path: string;
  /** For files with a `model` column: keep only this model's rows. Required when several appear. */
  readonly model?: string | undefined;
  /** Size column of a per-request trace (default: the first of SIZE_COLUMNS present). */
  readonly sizeColumn?: string | undefined;
  /** Replay speed-up: 24 replays a day in an hour (rates rise 24×). Default 1. */
  readonly timeScale?: number | undefined;
  /** Rescales the request count so the busiest minute (after time scaling) averages this. */
  readonly peakRps?: number | undefined;
  /** Window start in trace time (before time scaling); output times count from here. */
  readonly startMs?: Ms | undefined;
  /** Window length in trace time (before time scaling). */
  readonly durationMs?: Ms | undefined;
  /** Skip (and count in `stats`) bad rows instead of failing on the first. */
  readonly skipBadRows?: boolean | undefined;
  /** Multiplies sizes read from the trace (e.g. tokens → profile batch sizes). Default 1. */
  readonly sizeScale?: number | undefined;
  /**
   * The largest size a row may have once scaled, with what sets it (`mixscale load`: the rows a
   * node takes in one request, whose body it builds); a larger one is a bad row. Default: none.
   */
  readonly maxSize?: { readonly size: number; readonly why: string } | undefined;
  /** Sizes for arrivals the trace does not size; without it their size is undefined. */
  readonly sizes?: SizeSpec | undefined;
  /** Seeds Poisson expansion, thinning/replication for peakRps, and size draws. Default 1. */
  readonly seed?: number | undefined;
  /** Filled in while reading. */
  readonly stats?: TraceStats | undefined;
}

export interface TraceStats {
  /** Data rows read (inside the window, of the selected model). */
  rows: number;
  /** Bad rows skipped under skipBadRows. */
  skippedRows: number;
  /** First few skipped rows, `file:line: reason`. */
  skipped: string[];
  /** Arrivals produced. */
  arrivals: number;
  /** Multiplier applied to the request count by peakRps (1 without it). */
  rateFactor: number;
  /** Trace shape: one row per request, or a rate series. */
  kind?: 'requests' | 'rates';
  /**
   * Where the load ends, in replayed ms from the window's start: the window's end, or the
   * trace's when it ends first (a rate series' last bin's end, a per-request trace's last row).
   */
  endMs?: Ms;
}

export function newTraceStats(): TraceStats {
  return { rows: 0, skippedRows: 0, skipped: [], arrivals: 0, rateFactor: 1 };
}

/** One arrival: time from the window start (scaled), size (undefined when unsized), source line. */
export interface TraceArrival {
  readonly tMs: Ms;
  readonly size: number | undefined;
  readonly line: number;
}

/** A batch of arrivals in time order; size is NaN where unsized. Only the first `length` entries count. */
export interface ArrivalChunk {
  readonly length: number;
  readonly tMs: Float64Array;
  readonly size: Float64Array;
  readonly line: Float64Array;
}

const CHUNK = 4096;

/** Arrivals one at a time (convenient; the simulator uses `readTraceChunks`). */
export async function* readTrace(opts: TraceOptions): AsyncGenerator<TraceArrival> {
  for await (const c of readTraceChunks(opts)) {
    for (let i = 0; i < c.length; i++) {
      const s = c.size[i]!;
      yield { tMs: c.tMs[i]!, size: Number.isNaN(s) ? undefined : s, line: c.line[i]! };
    }
  }
}

interface Layout {
  readonly kind: 'requests' | 'rates';
  readonly tCol: number;
  /** Size column (requests) or rate/count column (rates); -1 when none. */
  readonly vCol: number;
  readonly isCount: boolean;
  readonly modelCol: number;
  readonly width: number;
}

/** One validated data row, in trace ms. `v` is a size (NaN: none) or, for rates, requests per second. */
interface Row {
  t: Ms;
  v: number;
  line: number;
}

function parseHeader(file: string, header: string, opts: TraceOptions): Layout {
  // UTF-16 (read as UTF-8: a byte-order mark turned to U+FFFD, a NUL between letters) names no column.
  if (header.includes('\0') || header.startsWith('\ufffd\ufffd')) {
    throw new TraceError(`${file}:1: not UTF-8 text (UTF-16?): save it as UTF-8`, { file, line: 1 });
  }
  const cols = header.split(',').map((c) => c.trim());
  const at = (name: string): number => cols.indexOf(name);
  if (cols.length > 0 && cols[0] !== '' && Number.isFinite(Number(cols[0]))) {
    throw new TraceError(`${file}:1: missing header: expected a first line naming the columns (t_ms[,size|batch|input_tokens|output_tokens] or t_s,count|rps)`, { file, line: 1 });
  }
  const modelCol = at('model');
  if (at('t_ms') >= 0 && at('t_s') >= 0) {
    throw new TraceError(`${file}:1: both "t_ms" (one row per request) and "t_s" (a rate series) in the header; keep the one this trace is`, { file, line: 1 });
  }
  if (at('t_ms') >= 0) {
    let vCol = -1;
    if (opts.sizeColumn !== undefined) {
      vCol = at(opts.sizeColumn);
      if (vCol < 0) throw new TraceError(`${file}:1: no size column "${opts.sizeColumn}" (columns: ${cols.join(', ')})`, { file, line: 1 });
    } else {
      for (const c of SIZE_COLUMNS) if ((vCol = at(c)) >= 0) break;
    }
    return { kind: 'requests', tCol: at('t_ms'), vCol, isCount: false, modelCol, width: cols.length };
  }
  if (at('t_s') >= 0) {
    if (opts.sizeColumn !== undefined) {
      // A rate series sizes no request: a size column asked of it is a mistake, not a no-op.
      const detail = `"${opts.sizeColumn}": ${basename(file)} is a rate series (t_s), which has no size column; only a per-request trace (t_ms) takes one`;
      throw new TraceError(`${file}:1: size column ${detail}`, { file, line: 1, setting: 'sizeColumn', detail });
    }
    const rps = at('rps');
    const count = at('count');
    if (rps < 0 && count < 0) throw new TraceError(`${file}:1: a rate series (t_s) needs a "count" or "rps" column (columns: ${cols.join(', ')})`, { file, line: 1 });
    return { kind: 'rates', tCol: at('t_s'), vCol: rps >= 0 ? rps : count, isCount: rps < 0, modelCol, width: cols.length };
  }
  throw new TraceError(`${file}:1: unrecognized header "${header}": expected a "t_ms" column (one row per request) or "t_s" with "count" or "rps" (a rate series)`, { file, line: 1 });
}

/**
 * Reads validated rows inside the window, of the selected model, in file order. A rate row's
 * `v` is its rate in requests per second (count rows are converted once the bin width is known:
 * `width` is filled for rates). Yields in batches to keep the per-row cost low.
 */
async function* readRows(opts: TraceOptions, stats: TraceStats): AsyncGenerator<{ layout: Layout; rows: Row[]; widths: number[] }> {
  const file = opts.path;
  let stream;
  try {
    // A folder opens like a file and fails only on the first read.
    if ((await stat(file)).isDirectory()) throw new TraceError(`cannot read trace ${file}: is a directory`, { file });
    stream = createReadStream(file, { encoding: 'utf8' });
    await new Promise<void>((resolve, reject) => {
      stream!.once('open', () => resolve());
      stream!.once('error', reject);
    });
  } catch (e) {
    if (isMixscaleError(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TraceError(`cannot read trace ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`, { file });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  const startMs = opts.startMs ?? 0;
  const endMs = opts.durationMs !== undefined ? startMs + opts.durationMs : Infinity;
  const replayScale = opts.timeScale ?? 1;
  let layout: Layout | undefined;
  let lineNo = 0;
  let lastT = -Infinity;
  let seenModel: string | undefined;
  let batch: Row[] = [];
  // Rates: a row's bin ends where the next row starts, so each row waits for its successor.
  let pending: Row | undefined;
  let lastStep = NaN;
  let widths: number[] = [];
  // Whether any row reached the window: a start past the trace's end is a mistake, not an empty run.
  let inWindow = false;
  // With a model chosen: whether any row is of it, and (for the error when none is) the others seen.
  let modelFound = false;
  const otherModels = new Set<string>();
  const bad = (msg: string): void => {
    const text = `${file}:${lineNo}: ${msg}`;
    if (!opts.skipBadRows) throw new TraceError(text, { file, line: lineNo });
    stats.skippedRows++;
    if (stats.skipped.length < 5) stats.skipped.push(text);
  };
  /** Queues the part of a rate bin inside the window, counting the row when there is one. */
  const flushRate = (row: Row, binEnd: Ms): void => {
    const width = binEnd - row.t;
    const from = Math.max(row.t, startMs);
    const to = Math.min(binEnd, endMs);
    if (to <= from) return;
    inWindow = true;
    stats.rows++;
    const rate = layout!.isCount ? row.v / (width / 1000) : row.v;
    batch.push({ t: from, v: rate, line: row.line });
    widths.push(to - from);
  };
  let done = false;
  try {
    for await (const raw of lines) {
      lineNo++;
      const text = raw.trim();
      if (layout === undefined) {
        if (text === '') continue;
        layout = parseHeader(file, text, opts);
        stats.kind = layout.kind;
        if (opts.model !== undefined && layout.modelCol < 0) {
          const detail = `"${opts.model}" is not in ${basename(file)} (it has no model column)`;
          throw new TraceError(`trace ${file}: model ${detail}`, { file, line: lineNo, setting: 'model', detail });
        }
        continue;
      }
      if (text === '') continue;
      const f = text.split(',');
      if (f.length !== layout.width) {
        bad(`expected ${layout.width} fields, got ${f.length}`);
        continue;
      }
      if (layout.modelCol >= 0) {
        const m = f[layout.modelCol]!.trim();
        if (opts.model !== undefined) {
          if (m !== opts.model) {
            if (otherModels.size < 20) otherModels.add(m);
            continue;
          }
          modelFound = true;
        } else if (seenModel === undefined) seenModel = m;
        else if (m !== seenModel) {
          const detail = `${basename(file)} has several models ("${seenModel}", "${m}", ...): choose one`;
          throw new TraceError(`${file}:${lineNo}: the trace has several models ("${seenModel}", "${m}", ...): choose one with sim.trace.model`, { file, line: lineNo, setting: 'model', detail });
        }
      }
      const tRaw = f[layout.tCol]!.trim();
      const tNum = decimal(tRaw);
      const tUnit = layout.kind === 'rates' ? 1000 : 1;
      if (!Number.isFinite(tNum) || tNum < 0) {
        bad(`${layout.kind === 'rates' ? 't_s' : 't_ms'} "${tRaw}" is not a non-negative number`);
        continue;
      }
      const t = tNum * tUnit;
      // Absolute times (Unix epoch ms) would replay decades of silence before the first request.
      if (t > MAX_TRACE_MS) {
        bad(`${layout.kind === 'rates' ? 't_s' : 't_ms'} ${tRaw} is ${fmtCount(t / 86_400_000)} days into the trace; times count from the trace's start (at most ${MAX_TRACE_MS / 86_400_000} days): rebase them to the first row`);
        continue;
      }
      if (layout.kind === 'rates' ? t <= lastT : t < lastT) {
        bad(`timestamps must ${layout.kind === 'rates' ? 'increase' : 'not decrease'}: ${tRaw} after ${lastT / tUnit}`);
        continue;
      }
      let v = NaN;
      if (layout.vCol >= 0) {
        const vRaw = f[layout.vCol]!.trim();
        if (layout.kind === 'rates') {
          v = decimal(vRaw);
          if (!Number.isFinite(v) || v < 0) {
            bad(`${layout.isCount ? 'count' : 'rps'} "${vRaw}" is not a non-negative number`);
            continue;
          }
          if (layout.isCount && !Number.isInteger(v)) {
            bad(`count "${vRaw}" is not a whole number of requests`);
            continue;
          }
        } else if (vRaw !== '') {
          v = decimal(vRaw);
          if (!Number.isFinite(v) || v <= 0) {
            bad(`size "${vRaw}" is not a positive number`);
            continue;
          }
          v *= opts.sizeScale ?? 1;
          if (opts.maxSize !== undefined && Math.round(v) > opts.maxSize.size) {
            bad(`size "${vRaw}"${(opts.sizeScale ?? 1) !== 1 ? ` (× --size-scale ${opts.sizeScale})` : ''} is more than ${opts.maxSize.size}, ${opts.maxSize.why}`);
            continue;
          }
        }
      }
      lastT = t;
      // A small time scale stretches the replay: past a year of simulated time it never ends.
      if (t < endMs && (t - startMs) / replayScale > MAX_TRACE_MS) {
        bad(`${layout.kind === 'rates' ? 't_s' : 't_ms'} ${tRaw} at time scale ${replayScale} is ${fmtCount((t - startMs) / replayScale / 86_400_000)} days into the replay (at most ${MAX_TRACE_MS / 86_400_000} days): a larger time scale, or a shorter window`);
        continue;
      }
      if (layout.kind === 'requests') {
        if (t < startMs) continue;
        if (t >= endMs) {
          done = true;
          break;
        }
        stats.rows++;
        inWindow = true;
        batch.push({ t, v, line: lineNo });
      } else {
        if (pending !== undefined) {
          lastStep = t - pending.t;
          if (pending.t < endMs) {
            flushRate(pending, t);
          } else {
            pending = undefined;
            done = true;
            break;
          }
        }
        pending = { t, v, line: lineNo };
      }
      if (batch.length >= 1024) {
        yield { layout, rows: batch, widths };
        batch = [];
        widths = [];
      }
    }
  } catch (e) {
    // A read that fails midway (a device error, a file that went away) names the trace in one line.
    if (isMixscaleError(e)) throw e;
    throw new TraceError(`cannot read trace ${file}: ${(e as Error).message}`, { file });
  } finally {
    if (done) lines.close();
  }
  if (layout === undefined) throw new TraceError(`${file}: empty trace: no header and no rows`, { file, line: 0 });
  if (opts.model !== undefined && !modelFound && otherModels.size > 0) {
    const names = [...otherModels].sort();
    const detail = `"${opts.model}" is not in ${basename(file)} (models: ${names.join(', ')}${names.length >= 20 ? ', ...' : ''})`;
    throw new TraceError(`trace ${file}: model ${detail}`, { file, setting: 'model', detail });
  }
  let traceEnd = lastT;
  if (pending !== undefined && pending.t < endMs) {
    // The last bin repeats the previous step; a single-row series is a one-second bin.
    traceEnd = pending.t + (Number.isNaN(lastStep) ? 1000 : lastStep);
    flushRate(pending, traceEnd);
  }
  if (traceEnd > -Infinity) stats.endMs = (Math.min(traceEnd, endMs) - startMs) / replayScale;
  if (!done && !inWindow && startMs > 0 && lastT > -Infinity) {
    const detail = `no arrivals in the chosen window: it starts at ${formatDuration(startMs)}, past the end of ${basename(file)} (${formatDuration(traceEnd)})`;
    throw new TraceError(`trace ${file}: ${detail}`, { file, setting: 'start', detail });
  }
  if (batch.length > 0) yield { layout, rows: batch, widths };
}

/** Busiest minute (after time scaling) in requests per second, for peakRps. */
async function peakMinuteRps(opts: TraceOptions): Promise<number> {
  const scale = opts.timeScale ?? 1;
  const startMs = opts.startMs ?? 0;
  const perMinute = new Map<number, number>();
  let spanEnd = 0;
  const add = (minute: number, n: number): void => {
    perMinute.set(minute, (perMinute.get(minute) ?? 0) + n);
  };
  const scratch = newTraceStats();
  for await (const { layout, rows, widths } of readRows({ ...opts, skipBadRows: true }, scratch)) {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const t0 = (r.t - startMs) / scale;
      if (layout.kind === 'requests') {
        add(Math.floor(t0 / 60_000), 1);
        spanEnd = Math.max(spanEnd, t0);
      } else {
        // Spread the bin's expected count over the minutes it overlaps.
        const t1 = t0 + widths[i]! / scale;
        const perMs = (r.v * scale) / 1000;
        for (let m = Math.floor(t0 / 60_000); m * 60_000 < t1; m++) {
          const overlap = Math.min(t1, (m + 1) * 60_000) - Math.max(t0, m * 60_000);
          if (overlap > 0) add(m, perMs * overlap);
        }
        spanEnd = Math.max(spanEnd, t1);
      }
    }
  }
  let max = 0;
  for (const n of perMinute.values()) max = Math.max(max, n);
  // A trace shorter than a minute averages over its own span.
  const seconds = Math.max(Math.min(60, spanEnd / 1000), 1e-3);
  return max / seconds;
}

/** The latest time a trace row may have (366 days): past it, its times are absolute, not from its start. */
const MAX_TRACE_MS = 366 * 86_400_000;
/** The highest rate a rate series may replay at: above it a run would not end in hours. */
const MAX_REPLAY_RPS = 1_000_000;
/** A count for a message: grouped digits, or a power of ten past a billion (1e300 is not 300 digits). */
const fmtCount = (n: number): string => (n < 1e9 ? Math.round(n).toLocaleString('en-US') : n.toExponential(1));

/** The most times peakRps may repeat each request of a trace. */
const MAX_REPLICAS = 10_000;

/** Arrivals in time order, in chunks: what the simulator consumes. */
export async function* readTraceChunks(opts: TraceOptions): AsyncGenerator<ArrivalChunk> {
  const stats = opts.stats ?? newTraceStats();
  const scale = opts.timeScale ?? 1;
  if (!(scale > 0)) throw new TraceError(`trace ${opts.path}: timeScale must be positive`, { file: opts.path });
  const startMs = opts.startMs ?? 0;
  let factor = 1;
  if (opts.peakRps !== undefined) {
    const peak = await peakMinuteRps(opts);
    // Nothing in the window: nothing to rescale, and nothing to yield. The caller says so as it
    // does for any empty window, naming what cut it.
    if (peak <= 0) return;
    factor = opts.peakRps / peak;
    // Each row is sent `factor` times: beyond this a trace is not being rescaled but replaced.
    if (factor > MAX_REPLICAS) {
      const detail = `${opts.peakRps} rps would send each request of ${opts.path} about ${fmtCount(factor)} times (its busiest minute is ${+peak.toPrecision(3)} rps); at most ${MAX_REPLICAS.toLocaleString('en-US')}× its peak`;
      throw new TraceError(`trace ${opts.path}: peakRps ${detail}`, { file: opts.path, setting: 'peakRps', detail });
    }
  }
  stats.rateFactor = factor;
  const rng = new Rng(opts.seed ?? 1);
  const sizeRng = rng.fork();
  const draw = opts.sizes !== undefined ? sizeSampler(opts.sizes) : undefined;

  const w = new ChunkWriter(stats);
  const emitSize = (s: number): number => (Number.isNaN(s) && draw !== undefined ? draw(sizeRng) : s);
  const whole = Math.floor(factor);
  const frac = factor - whole;
  // Per-request traces: a row's replicas spread up to the next row, so each row waits for it.
  let held: Row | undefined;
  /** The row before `held` (trace ms): the last row's replicas spread over the gap from it. */
  let heldBefore: Ms | undefined;
  const copies: number[] = [];
  /** Pushes a row's k copies: the first at `a`, the others uniform in [a, b), in time order. */
  const pushCopies = function* (row: Row, a: Ms, b: Ms): Generator<ArrivalChunk> {
    const k = whole + (rng.next() < frac ? 1 : 0);
    copies.length = 0;
    for (let c = 0; c < k; c++) copies.push(c === 0 ? a : a + rng.next() * (b - a));
    if (k > 2) copies.sort((x, y) => x - y);
    for (const at of copies) {
      if (w.full()) yield w.take();
      w.push(at, emitSize(row.v), row.line);
    }
  };

  for await (const { layout, rows, widths } of readRows(opts, stats)) {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (layout.kind === 'requests') {
        if (held !== undefined) {
          yield* pushCopies(held, (held.t - startMs) / scale, (r.t - startMs) / scale);
          heldBefore = held.t;
        }
        held = r;
      } else {
        // Piecewise-constant Poisson process: exponential gaps at this bin's (scaled) rate.
        const t0 = (r.t - startMs) / scale;
        const t1 = t0 + widths[i]! / scale;
        const ratePerMs = (r.v * scale * factor) / 1000;
        if (ratePerMs <= 0) continue;
        if (ratePerMs * 1000 > MAX_REPLAY_RPS) {
          throw new TraceError(`${opts.path}:${r.line}: this row replays at ${fmtCount(ratePerMs * 1000)} requests per second (after the time scale${factor !== 1 ? ' and peakRps' : ''}); at most ${MAX_REPLAY_RPS.toLocaleString('en-US')}`, { file: opts.path, line: r.line });
        }
        let at = t0 + rng.exponential(ratePerMs);
        while (at < t1) {
          if (w.full()) yield w.take();
          w.push(at, draw !== undefined ? draw(sizeRng) : NaN, r.line);
          at += rng.exponential(ratePerMs);
        }
      }
    }
  }
  if (held !== undefined) {
    // The last row has no next one: its replicas spread over the gap before it (as a rate
    // series' last bin repeats the step before it), inside the window; a lone row has no gap.
    const a = (held.t - startMs) / scale;
    let b = a + (heldBefore !== undefined ? held.t - heldBefore : 0) / scale;
    if (opts.durationMs !== undefined) b = Math.min(b, opts.durationMs / scale);
    yield* pushCopies(held, a, Math.max(a, b));
  }
  if (w.length > 0) yield w.take();
}

/** Fills chunks of arrivals; the generator yields each one when full. */
class ChunkWriter {
  private t = new Float64Array(CHUNK);
  private size = new Float64Array(CHUNK);
  private line = new Float64Array(CHUNK);
  length = 0;

  constructor(private readonly stats: TraceStats) {}

  full(): boolean {
    return this.length === CHUNK;
  }

  push(t: Ms, size: number, line: number): void {
    const i = this.length++;
    this.t[i] = t;
    this.size[i] = size;
    this.line[i] = line;
  }

  take(): ArrivalChunk {
    const c: ArrivalChunk = { length: this.length, tMs: this.t, size: this.size, line: this.line };
    this.stats.arrivals += this.length;
    this.t = new Float64Array(CHUNK);
    this.size = new Float64Array(CHUNK);
    this.line = new Float64Array(CHUNK);
    this.length = 0;
    return c;
  }
}

export interface PoissonOptions {
  readonly rps: number;
  readonly durationMs: Ms;
  readonly sizes: SizeSpec;
  readonly seed?: number | undefined;
  readonly stats?: TraceStats | undefined;
}

/** A constant-rate Poisson stream with sizes from a spec (what-if runs, model validation). */
export async function* poissonArrivals(opts: PoissonOptions): AsyncGenerator<ArrivalChunk> {
  const stats = opts.stats ?? newTraceStats();
  stats.kind = 'rates';
  const rng = new Rng(opts.seed ?? 1);
  const sizeRng = rng.fork();
  const draw = sizeSampler(opts.sizes);
  const w = new ChunkWriter(stats);
  const perMs = opts.rps / 1000;
  if (!(perMs > 0)) return;
  for (let at = rng.exponential(perMs); at < opts.durationMs; at += rng.exponential(perMs)) {
    if (w.full()) yield w.take();
    w.push(at, draw(sizeRng), 0);
  }
  if (w.length > 0) yield w.take();
}

/** Length of the replayed span (after windowing and time scaling), by one streaming pass: for progress. */
export async function traceSpanMs(opts: TraceOptions): Promise<Ms> {
  const scale = opts.timeScale ?? 1;
  const startMs = opts.startMs ?? 0;
  let end = 0;
  for await (const { layout, rows, widths } of readRows({ ...opts, skipBadRows: true }, newTraceStats())) {
    const i = rows.length - 1;
    const last = rows[i]!;
    end = Math.max(end, (last.t - startMs + (layout.kind === 'rates' ? widths[i]! : 0)) / scale);
  }
  return end;
}
