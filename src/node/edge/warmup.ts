import type { Clock } from '../../core/clock.ts';
import type { MultiExitModel } from './model.ts';
import type { StageLatency } from './stage-latency.ts';

export interface WarmUpReport {
  /** Per-sample time at `probeBatch` rows over per-sample time at one row, summed over stages. */
  readonly batchRatio: number;
  /** Batching pays when a row in a batch costs under 85% of a row alone. */
  readonly batchingHelps: boolean;
}

/**
 * Runs every stage `runs` times at one row to seed the latency histograms (the first runs
 * also pay onnxruntime's lazy initialisation, so they are run twice and the first pass is
 * not recorded), then a few runs at `probeBatch` rows to decide whether batching helps here.
 */
export async function warmUp(model: MultiExitModel, latency: StageLatency, clock: Clock, opts: { runs: number; probeBatch: number }): Promise<WarmUpReport> {
  await timeChain(model, clock, 1, Math.min(3, opts.runs), undefined);
  const single = await timeChain(model, clock, 1, Math.max(1, opts.runs), latency);
  if (opts.probeBatch <= 1) return { batchRatio: 1, batchingHelps: false };
  const batched = await timeChain(model, clock, opts.probeBatch, Math.max(2, Math.ceil(opts.runs / opts.probeBatch)), latency);
  const batchRatio = batched / opts.probeBatch / single;
  return { batchRatio, batchingHelps: batchRatio < 0.85 };
}

/** Mean time of the whole chain over `runs` runs, recording each stage when `latency` is given. */
async function timeChain(model: MultiExitModel, clock: Clock, rows: number, runs: number, latency: StageLatency | undefined): Promise<number> {
  const input = new Float32Array(rows * model.features);
  // A mid-grey digit: convolution cost does not depend on the values, but NaN-free input keeps it honest.
  input.fill(8);
  let total = 0;
  for (let r = 0; r < runs; r++) {
    let t = model.inputTensor(input, rows);
    for (let s = 0; s < model.stageCount; s++) {
      const t0 = clock.now();
      const out = await model.runStage(s, t);
      const ms = clock.now() - t0;
      total += ms;
      latency?.record(s, rows, ms, clock.now());
      if (out.hidden !== undefined) t = out.hidden;
    }
  }
  return total / runs;
}
