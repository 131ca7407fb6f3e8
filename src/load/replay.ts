import { Pool } from 'undici';
import { readTrace, newTraceStats, type TraceOptions, type TraceStats } from '../../sim/workload.ts';
import { type Clock, timerMs } from '../core/clock.ts';
import { MixscaleError } from '../core/errors.ts';
import { Rng } from '../core/rng.ts';
import type { Ms } from '../core/types.ts';
import { pickClass, type ClassMix } from './classes.ts';
import { FleetWatch, type FleetSample } from './fleet-watch.ts';
import type { PayloadBuilder } from './payload.ts';
import { LoadRecorder, type ClassReport } from './recorder.ts';

export interface ReplayOptions {
  readonly trace: Omit<TraceOptions, 'stats'>;
  /** Base URL of the router or node (`http://127.0.0.1:8080`), or a full `.../v2/models/NAME/infer` URL. */
  readonly target: string;
  /** Model name for the infer path when `target` is a base URL. */
  readonly model: string;
  readonly payload: PayloadBuilder;
  readonly classes?: ClassMix | undefined;
  /** Most open connections to the target; requests beyond them wait in the client, and their wait counts as latency. */
  readonly connections?: number;
  readonly timeoutMs?: Ms;
  readonly seed?: number;
  /** Called after every send and every answer. */
  readonly onProgress?: (p: ReplayProgress) => void;
  /** Aborted (Ctrl-C): no more sends; requests in flight get `graceMs` to answer, then are counted as `interrupted`. */
  readonly signal?: AbortSignal;
  /** With `signal`: how long requests in flight may still answer (default 2 s). */
  readonly graceMs?: Ms;
  /** Called with every answer (for scripts that read response parameters). */
  readonly onResponse?: (r: { cls: string; size: number; intendedMs: Ms; latencyMs: Ms; status: number; body: unknown }) => void;
}

export interface ReplayProgress {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
}

export interface ReplayReport {
  readonly target: string;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly failures: Record<string, number>;
  /** The first failure of each reason, as the target said it (its `error`, or the start of its body). */
  readonly failureExamples: Record<string, string>;
  /** True when the replay was stopped (Ctrl-C) before the trace's end. */
  readonly interrupted: boolean;
  /** Wall time from the first intended send to the last answer. */
  readonly durationMs: Ms;
  /** Arrivals per second the trace asked for, between its first and last arrival (null with fewer than two). */
  readonly offeredRps: number | null;
  readonly classes: Record<string, ClassReport>;
  /** How late the generator itself sent (p99 / max ms): large values mean this machine could not keep up. */
  readonly sendLagMs: { p99: number; max: number };
  readonly trace: TraceStats;
  /** Backends per type behind the target over time (from a router's /v1/snapshot), one entry per change. */
  readonly fleet: FleetSample[];
}

export function inferUrl(target: string, model: string): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new MixscaleError('MIXSCALE_USAGE', `--target: "${target}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MixscaleError('MIXSCALE_USAGE', `--target: "${target}" must be http(s)`);
  // A URL naming a model (`.../v2/models/NAME[/versions/V][/infer]`) is that model's infer path;
  // any other (a base URL, with or without a gateway's path prefix, or ending in /v2) gets --model's.
  const path = url.pathname.replace(/\/+$/, '');
  const named = /^(.*\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?)(?:\/infer)?$/.exec(path);
  url = new URL(url.href);
  url.pathname = named !== null ? `${named[1]!}/infer` : `${path.replace(/\/v2$/, '')}/v2/models/${encodeURIComponent(model)}/infer`;
  return url;
}

/**
 * Open-loop replay: each trace arrival is sent at its own time however the earlier ones are
 * doing, and its latency is measured from that intended time.
 */
export async function replayTrace(opts: ReplayOptions, clock: Clock): Promise<ReplayReport> {
  const url = inferUrl(opts.target, opts.model);
  const pool = new Pool(url.origin, { connections: opts.connections ?? 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const rec = new LoadRecorder();
  const rng = new Rng(opts.seed ?? 1);
  const stats = newTraceStats();
  const inflight = new Set<Promise<void>>();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const progress = (): void => opts.onProgress?.(rec.totals);
  let firstT: number | undefined;
  let lastT = 0;
  // The clock starts once the first arrival is read: reading a trace (and, for --peak-rps, a
  // first pass over it) must not make the first sends late.
  const arrivals = readTrace({ ...opts.trace, stats })[Symbol.asyncIterator]();
  const first = await arrivals.next();
  const start = clock.now();
  let lastAnswerAt = start;
  const fleet = new FleetWatch(url.origin, clock);
  fleet.start(start);
  const stop = opts.signal;
  let cutShort = false;
  const cancel = new AbortController();
  try {
    for (let next = first; next.done !== true; next = await arrivals.next()) {
      const a = next.value;
      const intended = start + a.tMs;
      const wait = intended - clock.now();
      if (wait > 0.5) await sleepUnless(clock, wait, stop);
      if (stop?.aborted === true) {
        cutShort = true;
        break;
      }
      firstT ??= a.tMs;
      lastT = a.tMs;
      const size = Math.max(1, Math.round(a.size ?? 1));
      const cls = opts.classes === undefined ? 'all' : pickClass(opts.classes, rng);
      const body = opts.payload.body(size, opts.classes === undefined ? undefined : cls);
      rec.sent(cls, Math.max(0, clock.now() - intended));
      // --timeout counts from the intended send, time waiting for a connection included.
      const p = send(pool, url, body, Math.max(1, intended + timeoutMs - clock.now()), cancel.signal)
        .then(({ status, payload }) => {
          lastAnswerAt = clock.now();
          const latency = lastAnswerAt - intended;
          if (status === 200) rec.ok(cls, latency);
          else rec.failed(cls, `http ${status}`, errorText(payload));
          opts.onResponse?.({ cls, size, intendedMs: intended - start, latencyMs: latency, status, body: payload });
        })
        .catch((e: unknown) => {
          lastAnswerAt = clock.now();
          if (cancel.signal.aborted) return rec.failed(cls, 'interrupted');
          const said = e instanceof ReplayTimeout ? `no answer within ${timeoutMs} ms of the intended send (--timeout)` : e instanceof Error && e.message !== '' ? e.message : undefined;
          rec.failed(cls, errorReason(e), said);
        })
        .finally(() => {
          inflight.delete(p);
          progress();
        });
      inflight.add(p);
      progress();
    }
    // Waiting for the last answers, an interrupt (now or during the wait) gives them the grace
    // period, then cuts the rest.
    const settled = new AbortController();
    const all = Promise.all(inflight).then(() => settled.abort());
    await sleepUnless(clock, Infinity, AbortSignal.any([settled.signal, ...(stop !== undefined ? [stop] : [])]));
    if (!settled.signal.aborted) {
      await sleepUnless(clock, opts.graceMs ?? 2000, settled.signal);
      cancel.abort();
    }
    await all;
  } finally {
    await fleet.stop();
    await pool.close();
    // Closes the trace read however the loop ended (a no-op once it has run to the end).
    await arrivals.return?.(undefined);
  }
  const t = rec.totals;
  const spanMs = lastT - (firstT ?? lastT);
  return {
    target: url.href,
    ...t,
    failures: Object.fromEntries(rec.failures),
    failureExamples: Object.fromEntries(rec.failureExamples),
    interrupted: cutShort || rec.failures.has('interrupted'),
    durationMs: Math.max(lastAnswerAt, start + lastT) - start,
    offeredRps: t.sent > 1 && spanMs > 0 ? ((t.sent - 1) * 1000) / spanMs : null,
    classes: rec.classes(),
    sendLagMs: { p99: rec.sendLag.quantile(0.99), max: rec.sendLag.maxMs },
    trace: stats,
    fleet: fleet.samples,
  };
}

/** Sleeps `ms` on the clock, or until `signal` aborts. */
function sleepUnless(clock: Clock, ms: Ms, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A request not answered within --timeout of its intended send time. */
class ReplayTimeout extends Error {}

async function send(pool: Pool, url: URL, body: string, timeoutMs: Ms, cancel: AbortSignal): Promise<{ status: number; payload: unknown }> {
  const timeout = AbortSignal.timeout(timerMs(Math.ceil(timeoutMs)));
  const signal = AbortSignal.any([timeout, cancel]);
  let text: string;
  let status: number;
  try {
    const r = await pool.request({ path: url.pathname + url.search, method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
    status = r.statusCode;
    text = await r.body.text();
  } catch (e) {
    if (timeout.aborted) throw new ReplayTimeout();
    throw e;
  }
  let payload: unknown = text;
  try {
    payload = JSON.parse(text);
  } catch {
    // a non-JSON answer (a proxy's error page): keep the text
  }
  return { status, payload };
}

/** What a failed answer said: its OIP `error`, else the start of its text. */
function errorText(payload: unknown): string | undefined {
  const error = typeof payload === 'object' && payload !== null ? (payload as { error?: unknown }).error : undefined;
  const text = typeof error === 'string' ? error : typeof payload === 'string' ? payload : JSON.stringify(payload);
  return text === undefined || text.trim() === '' ? undefined : text.trim().slice(0, 300);
}

function errorReason(e: unknown): string {
  if (e instanceof ReplayTimeout) return 'timeout';
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.name : 'error';
}
