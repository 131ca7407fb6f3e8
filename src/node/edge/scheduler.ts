import * as ort from 'onnxruntime-node';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import type { Ms } from '../../core/types.ts';
import type { ResolvedBounds } from './bounds.ts';
import { decideExits, type ExitPolicyName, type ExitReason } from './exit-policy.ts';
import type { MultiExitModel } from './model.ts';
import type { StageLatency } from './stage-latency.ts';

export interface ExitResult {
  /** 1-based exit taken. */
  readonly exit: number;
  readonly reason: ExitReason;
  /** Probabilities at that exit, rows × classes. */
  readonly probs: Float32Array;
  readonly confidence: number;
  readonly arrivalMs: Ms;
  /** When the first stage started (queueing ends). */
  readonly startMs: Ms;
  readonly endMs: Ms;
}

export interface SchedulerOptions {
  readonly policy: ExitPolicyName;
  /** Percentile (0..1) of a stage's measured time the predictive policy plans with. */
  readonly percentile: number;
  readonly confidenceThreshold: number;
  /** Most rows run through one stage at once, across requests (1: no batching). */
  readonly maxBatchRows: number;
  /**
   * While idle, re-measure every stage not run for this long (ms; 0: never). Without it a
   * stage the predictive policy stopped starting, because a burst of contention inflated its
   * tail, would never be measured again and never be started again.
   */
  readonly probeEveryMs?: number;
}

/** A request whose rows gave a NaN or infinite exit output (values the model overflows on): it stops there. */
export class NonFiniteOutputError extends Error {
  /** The request's first such row (0-based) and the 1-based exit it reached. */
  readonly row: number;
  readonly exit: number;

  constructor(row: number, exit: number) {
    super(`row ${row}: exit ${exit} output is not a number`);
    this.row = row;
    this.exit = exit;
  }
}

/** The client went away (its request's signal aborted): the request left the queue or stopped between stages. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client went away before the answer');
  }
}

interface Job {
  readonly signal: AbortSignal | undefined;
  readonly data: Float32Array;
  readonly rows: number;
  readonly bounds: ResolvedBounds;
  readonly arrivalMs: Ms;
  readonly deadlineMs: Ms;
  startMs: Ms;
  hidden: ort.Tensor | undefined;
  probs: Float32Array;
  confidence: number;
  readonly resolve: (r: ExitResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Runs requests through the stages on one worker (the CPU is the bottleneck, and one
 * onnxruntime thread at a time keeps the measured stage times true). Requests that arrive
 * together form a cohort of up to `maxBatchRows` rows; the cohort runs stage by stage, each
 * stage batched over the requests still going, and after every stage the exit policy decides
 * who stops. A cohort runs to the end before the next starts, so a request never waits behind
 * newcomers between its stages.
 */
export class ExitScheduler {
  private readonly queue: Job[] = [];
  private running = false;
  private readonly model: MultiExitModel;
  private readonly latency: StageLatency;
  private readonly clock: Clock;
  private readonly opts: SchedulerOptions;
  /** One row of input for each stage, kept from real traffic, for probes. */
  private readonly probeInputs: Array<ort.Tensor | undefined>;
  private probeTimer: TimerHandle | undefined;

  constructor(model: MultiExitModel, latency: StageLatency, clock: Clock, opts: SchedulerOptions) {
    this.model = model;
    this.latency = latency;
    this.clock = clock;
    this.opts = opts;
    this.probeInputs = new Array<ort.Tensor | undefined>(model.stageCount).fill(undefined);
    this.scheduleProbe();
  }

  /** Stops probing (lets the process exit). */
  stop(): void {
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private scheduleProbe(): void {
    const every = this.opts.probeEveryMs ?? 0;
    if (every <= 0) return;
    this.probeTimer = this.clock.setTimeout(() => {
      void this.probe(every).finally(() => {
        if (this.probeTimer !== undefined) this.scheduleProbe();
      });
    }, every);
  }

  /** Runs each stale stage once on a kept row, when nothing else is running. */
  private async probe(staleMs: number): Promise<void> {
    if (this.running || this.queue.length > 0) return;
    this.running = true;
    try {
      for (let s = 0; s < this.model.stageCount; s++) {
        const input = this.probeInputs[s];
        if (input === undefined || this.clock.now() - this.latency.lastRunAt(s) < staleMs || this.queue.length > 0) continue;
        const t0 = this.clock.now();
        await this.model.runStage(s, input);
        const now = this.clock.now();
        this.latency.record(s, 1, now - t0, now);
      }
    } catch {
      // A failed probe only means no fresh measurement; requests report their own failures.
    } finally {
      this.running = false;
      if (this.queue.length > 0) void this.drain();
    }
  }

  /** Requests waiting to start plus the cohort in progress. */
  get depth(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /**
   * Queues a request. When `signal` aborts (the client hung up), a queued request leaves the
   * queue and a running one stops before its next stage; either way it is rejected with
   * ClientGoneError, and its rows no longer weigh on anyone's plan.
   */
  submit(data: Float32Array, rows: number, bounds: ResolvedBounds, arrivalMs: Ms, signal?: AbortSignal): Promise<ExitResult> {
    if (signal?.aborted === true) return Promise.reject(new ClientGoneError());
    return new Promise<ExitResult>((resolve, reject) => {
      // The abort listener goes once the job settles (a long-lived signal must not keep it).
      const onAbort = (): void => {
        const i = this.queue.indexOf(job);
        if (i < 0) return; // running (it stops before its next stage) or answered
        this.queue.splice(i, 1);
        job.reject(new ClientGoneError());
      };
      const job: Job = {
        signal,
        data,
        rows,
        bounds,
        arrivalMs,
        deadlineMs: bounds.latencyMs === undefined ? Infinity : arrivalMs + bounds.latencyMs,
        startMs: NaN,
        hidden: undefined,
        probs: new Float32Array(0),
        confidence: 0,
        resolve: (r) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      this.queue.push(job);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.running) void this.drain();
    });
  }

  private stageMs(stage: number, rows: number): number {
    return this.latency.quantile(stage, rows, this.opts.percentile);
  }

  /**
   * Expected work for the queue estimate: the median, because a sum over many queued stages
   * concentrates near its mean, and summing tail quantiles would see congestion that is not there.
   */
  private typicalMs(stage: number, rows: number): number {
    return this.latency.quantile(stage, rows, 0.5);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) await this.runCohort(this.takeCohort());
    } finally {
      this.running = false;
    }
  }

  private takeCohort(): Job[] {
    const cohort = [this.queue.shift()!];
    let rows = cohort[0]!.rows;
    while (this.queue.length > 0 && rows + this.queue[0]!.rows <= this.opts.maxBatchRows) {
      const j = this.queue.shift()!;
      rows += j.rows;
      cohort.push(j);
    }
    return cohort;
  }

  private async runCohort(cohort: Job[]): Promise<void> {
    const start = this.clock.now();
    for (const j of cohort) j.startMs = start;
    let active = cohort;
    const classes = this.model.classes;
    for (let stage = 0; ; stage++) {
      // A stage runs on this thread, so a client that hung up during the last one is only seen
      // once the sockets have been read: let them be, then drop the requests nobody waits for.
      await new Promise<void>((r) => setImmediate(r));
      active = active.filter((j) => {
        if (j.signal?.aborted !== true) return true;
        j.reject(new ClientGoneError());
        return false;
      });
      if (active.length === 0) return;
      const rows = active.reduce((a, j) => a + j.rows, 0);
      const input = stage === 0 ? this.model.inputTensor(concat(active.map((j) => j.data)), rows) : concatTensors(active.map((j) => j.hidden!));
      const t0 = this.clock.now();
      let out;
      try {
        out = await this.model.runStage(stage, input);
      } catch (e) {
        for (const j of active) j.reject(e);
        return;
      }
      const now = this.clock.now();
      this.latency.record(stage, rows, now - t0, now);
      this.probeInputs[stage] ??= sliceRows(input, 0, 1);
      if (out.hidden !== undefined && stage + 1 < this.model.stageCount) this.probeInputs[stage + 1] = sliceRows(out.hidden, 0, 1);
      let offset = 0;
      const going: Job[] = [];
      for (const j of active) {
        j.probs = out.probs.slice(offset * classes, (offset + j.rows) * classes);
        j.hidden = out.hidden === undefined ? undefined : sliceRows(out.hidden, offset, j.rows);
        j.confidence = minRowMax(j.probs, classes);
        offset += j.rows;
        // Rows are computed independently, so one request's overflow leaves the others' rows intact.
        const bad = j.probs.findIndex((p) => !Number.isFinite(p));
        if (bad < 0) going.push(j);
        else {
          j.hidden = undefined;
          j.reject(new NonFiniteOutputError(Math.floor(bad / classes), stage + 1));
        }
      }
      active = going;
      const decisions = decideExits(
        this.opts.policy,
        active.map((j) => ({ deadlineMs: j.deadlineMs, minExit: j.bounds.minExit, maxExit: j.bounds.maxExit, rows: j.rows, confidence: j.confidence })),
        {
          now,
          done: stage,
          stageCount: this.model.stageCount,
          confidenceThreshold: this.opts.confidenceThreshold,
          stageMs: (s, r) => this.stageMs(s, r),
          queueSlackMs: () => this.queueSlack(now, active, stage + 1),
        },
      );
      const next: Job[] = [];
      active.forEach((j, i) => {
        const reason = decisions[i];
        if (reason === null || reason === undefined) {
          next.push(j);
          return;
        }
        j.hidden = undefined;
        j.resolve({ exit: stage + 1, reason, probs: j.probs, confidence: j.confidence, arrivalMs: j.arrivalMs, startMs: j.startMs, endMs: now });
      });
      active = next;
    }
  }

  /**
   * The least slack among queued requests that can still make their deadline, after the
   * cohort's remaining mandatory stages (from `fromStage` on) and the mandatory stages of
   * every request ahead of them. Requests already past saving do not constrain anyone.
   */
  private queueSlack(now: Ms, cohort: readonly Job[], fromStage: number): number {
    if (this.queue.length === 0) return Infinity;
    let ahead = 0;
    for (let s = fromStage; s < this.model.stageCount; s++) {
      const rows = cohort.reduce((a, j) => (j.bounds.minExit >= s ? a + j.rows : a), 0);
      if (rows > 0) ahead += this.typicalMs(s, rows);
    }
    let slack = Infinity;
    for (const j of this.queue) {
      let own = 0;
      for (let s = 0; s <= j.bounds.minExit; s++) own += this.typicalMs(s, j.rows);
      const left = j.deadlineMs - (now + ahead + own);
      if (left >= 0) slack = Math.min(slack, left);
      ahead += own;
    }
    return slack;
  }
}

function concat(parts: readonly Float32Array[]): Float32Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function concatTensors(parts: readonly ort.Tensor[]): ort.Tensor {
  if (parts.length === 1) return parts[0]!;
  const dims = parts[0]!.dims;
  const rows = parts.reduce((a, p) => a + p.dims[0]!, 0);
  return new ort.Tensor('float32', concat(parts.map((p) => p.data as Float32Array)), [rows, ...dims.slice(1)]);
}

function sliceRows(t: ort.Tensor, from: number, rows: number): ort.Tensor {
  if (from === 0 && rows === t.dims[0]) return t;
  const per = t.dims.slice(1).reduce((a, d) => a * d, 1);
  const data = (t.data as Float32Array).subarray(from * per, (from + rows) * per);
  return new ort.Tensor('float32', data, [rows, ...t.dims.slice(1)]);
}

function minRowMax(probs: Float32Array, classes: number): number {
  let min = Infinity;
  for (let r = 0; r < probs.length; r += classes) {
    let max = 0;
    for (let c = 0; c < classes; c++) max = Math.max(max, probs[r + c]!);
    min = Math.min(min, max);
  }
  return min;
}
