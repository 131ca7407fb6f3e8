import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../core/log.ts';
import type { Ms } from '../../core/types.ts';
import type { InferenceNode } from '../http.ts';
import type { OipInferRequest, OipInferResponse } from '../oip.ts';
import { badRequest, parseBounds, resolveBounds } from './bounds.ts';
import type { ExitPolicyName } from './exit-policy.ts';
import type { MultiExitModel } from './model.ts';
import { ExitScheduler, NonFiniteOutputError } from './scheduler.ts';
import { StageLatency } from './stage-latency.ts';
import { warmUp, type WarmUpReport } from './warmup.ts';

export interface EdgeOptions {
  readonly policy: ExitPolicyName;
  readonly percentile: number;
  readonly confidenceThreshold: number;
  /** Most rows one stage runs at once across requests; the warm-up lowers it to 1 when batching does not pay. */
  readonly maxBatchRows: number;
  /** Most rows one request may carry (default 64). */
  readonly maxRows?: number;
  /** Warm-up runs per stage at one row (seeds the latency histograms). */
  readonly warmupRuns: number;
  /** While idle, re-measure stages not run for this long (ms; default 5000, 0: never): rare, because a request that arrives during a probe waits for it. */
  readonly probeEveryMs?: number;
}

/** The edge node: a multi-exit model behind OIP v2, exit chosen per request by its bounds. */
export class EdgeNode implements InferenceNode {
  readonly requireInputs = true;
  readonly model: MultiExitModel;
  readonly latency: StageLatency;
  readonly warm: WarmUpReport;
  private readonly scheduler: ExitScheduler;
  private readonly opts: EdgeOptions;

  private constructor(model: MultiExitModel, latency: StageLatency, warm: WarmUpReport, clock: Clock, opts: EdgeOptions) {
    this.model = model;
    this.latency = latency;
    this.warm = warm;
    this.opts = opts;
    this.scheduler = new ExitScheduler(model, latency, clock, {
      policy: opts.policy,
      percentile: opts.percentile,
      confidenceThreshold: opts.confidenceThreshold,
      maxBatchRows: warm.batchingHelps ? opts.maxBatchRows : 1,
      probeEveryMs: opts.probeEveryMs ?? 5000,
    });
  }

  static async start(model: MultiExitModel, clock: Clock, opts: EdgeOptions, logger: Logger): Promise<EdgeNode> {
    const latency = new StageLatency(model.stageCount);
    const warm = await warmUp(model, latency, clock, { runs: opts.warmupRuns, probeBatch: opts.maxBatchRows });
    logger.info({ stages: latency.summary(), batching: warm }, 'edge node warmed up');
    return new EdgeNode(model, latency, warm, clock, opts);
  }

  get modelName(): string {
    return this.model.manifest.name;
  }

  metadata(): Record<string, unknown> {
    const m = this.model.manifest;
    return {
      inputs: [{ name: m.input.name, datatype: m.input.datatype, shape: [-1, m.input.features] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, m.classes] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
      parameters: {
        policy: this.opts.policy,
        percentile: this.opts.percentile,
        confidence_threshold: this.opts.confidenceThreshold,
        batch_rows: this.warm.batchingHelps ? this.opts.maxBatchRows : 1,
        exits: m.exits.map((e, i) => ({ ...e, stage_p50_ms: this.latency.quantile(i, 1, 0.5), stage_p99_ms: this.latency.quantile(i, 1, 0.99) })),
        energy_unit: m.energy?.unit ?? 'unspecified',
        queue: this.scheduler.depth,
      },
    };
  }

  async infer(req: OipInferRequest, arrivalMs: Ms, signal?: AbortSignal): Promise<OipInferResponse> {
    const m = this.model.manifest;
    // As Triton and KServe do: the tensor is found by the model's input name, and a request may
    // not carry inputs the model does not have.
    const other = req.inputs.findIndex((t) => t.name !== m.input.name);
    if (other >= 0) throw badRequest(`inputs[${other}].name`, `${JSON.stringify(req.inputs[other]!.name)} is not an input of ${m.name} (its input: "${m.input.name}")`);
    const input = req.inputs[0]!;
    const at = 'inputs[0]';
    if (input.datatype !== 'FP32') throw badRequest(`${at}.datatype`, `expected FP32, got ${input.datatype}`);
    const f = m.input.features;
    const shape = input.shape;
    const rows = shape.length === 1 ? 1 : shape[0]!;
    if (!((shape.length === 1 && shape[0] === f) || (shape.length === 2 && shape[1] === f && rows > 0))) {
      throw badRequest(`${at}.shape`, `expected [N,${f}] or [${f}], got [${shape.join(',')}]`);
    }
    const maxRows = this.opts.maxRows ?? 64;
    if (rows > maxRows) throw badRequest(`${at}.shape`, `${rows} rows is more than this node takes in one request (${maxRows}, node.edge.maxRows / --max-rows); split it`);
    const data = new Float32Array(input.data.length);
    // parseInferRequest has checked every value against FP32's range (beyond it, a value would
    // become Infinity and the probabilities NaN).
    for (let i = 0; i < data.length; i++) data[i] = input.data[i] as number;
    const bounds = resolveBounds(parseBounds(req.parameters), m.exits, (k) => this.pathFloorMs(k, rows), m.energy?.unit ?? 'units', rows);
    let r;
    try {
      r = await this.scheduler.submit(data, rows, bounds, arrivalMs, signal);
    } catch (e) {
      // Finite FP32 values can still overflow inside the model (64 × 1e38 does): the request's fault, not the node's.
      if (!(e instanceof NonFiniteOutputError)) throw e;
      throw badRequest(`${at}.data`, `row ${e.row}: the model's exit ${e.exit} gives NaN for these values (they overflow it in FP32; send values on the scale it was trained on, see the model's README)`);
    }
    const exit = m.exits[r.exit - 1]!;
    const elapsed = r.endMs - r.arrivalMs;
    const labels = argmaxRows(r.probs, m.classes);
    const honoured = {
      latency_ms: bounds.latencyMs === undefined || elapsed <= bounds.latencyMs,
      min_accuracy: bounds.minAccuracy === undefined || exit.accuracy >= bounds.minAccuracy,
      max_energy: bounds.maxEnergy === undefined || exit.energy <= bounds.maxEnergy,
    };
    return {
      model_name: m.name,
      ...(req.id !== undefined ? { id: req.id } : {}),
      parameters: {
        exit: r.exit,
        exit_reason: r.reason,
        confidence: r.confidence,
        elapsed_ms: elapsed,
        queue_ms: r.startMs - r.arrivalMs,
        accuracy: exit.accuracy,
        energy: exit.energy,
        policy: this.opts.policy,
        bounds: {
          ...(bounds.latencyMs !== undefined ? { latency_ms: bounds.latencyMs } : {}),
          ...(bounds.minAccuracy !== undefined ? { min_accuracy: bounds.minAccuracy } : {}),
          ...(bounds.maxEnergy !== undefined ? { max_energy: bounds.maxEnergy } : {}),
        },
        honoured,
        bound_honoured: honoured.latency_ms && honoured.min_accuracy && honoured.max_energy,
      },
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [rows, m.classes], data: Array.from(r.probs) },
        { name: 'label', datatype: 'INT64', shape: [rows], data: labels },
      ],
    };
  }

  /** The least time to reach exit k with `rows` rows on an idle node (below it a latency bound is impossible). */
  private pathFloorMs(k: number, rows: number): number {
    let t = 0;
    for (let s = 0; s <= k; s++) t += this.latency.floorMs(s, rows);
    return t;
  }

  async close(): Promise<void> {
    this.scheduler.stop();
    await this.model.release();
  }
}

function argmaxRows(probs: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < probs.length; r += classes) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probs[r + c]! > probs[r + best]!) best = c;
    out.push(best);
  }
  return out;
}
