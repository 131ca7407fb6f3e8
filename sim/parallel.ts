import { Worker } from 'node:worker_threads';
import { MixscaleError, type ErrorCode } from '../src/core/errors.ts';
import type { LogLevel } from '../src/core/log.ts';
import type { Ms } from '../src/core/types.ts';
import type { SimRun } from './result.ts';
import type { SimOverrides } from './runner.ts';

/** What a worker can run: the overrides that are plain data (no logger or callback). */
export type PlainOverrides = Pick<SimOverrides, 'scalingPolicy' | 'routingPolicy' | 'seed' | 'arrivals'>;

export interface WorkerJob {
  readonly index: number;
  readonly overrides: PlainOverrides;
}

export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'progress'; readonly index: number; readonly simulatedMs: Ms }
  | { readonly kind: 'done'; readonly index: number; readonly run: SimRun }
  | { readonly kind: 'failed'; readonly index: number; readonly code: string; readonly message: string; readonly details: Record<string, unknown> };

/**
 * Runs independent simulations (one per compared policy) on worker threads, each loading the
 * config file itself. Each run is a pure function of config, overrides and seed, so the results
 * are the same as running them one after another; they come back in job order.
 */
export async function runInParallel(
  configPath: string,
  jobs: readonly PlainOverrides[],
  opts: { threads: number; logLevel: LogLevel; onProgress?: (index: number, simulatedMs: Ms) => void },
): Promise<SimRun[]> {
  const results = new Array<SimRun | undefined>(jobs.length);
  let next = 0;
  let failure: MixscaleError | undefined;
  const threads = Math.max(1, Math.min(opts.threads, jobs.length));
  const entry = new URL('./parallel-worker.mjs', import.meta.url);
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(entry, { workerData: { configPath, logLevel: opts.logLevel } });
          const feed = (): void => {
            if (failure !== undefined || next >= jobs.length) {
              worker.postMessage(null);
              return;
            }
            const index = next++;
            worker.postMessage({ index, overrides: jobs[index]! } satisfies WorkerJob);
          };
          worker.on('message', (m: WorkerMessage) => {
            if (m.kind === 'ready') feed();
            else if (m.kind === 'progress') opts.onProgress?.(m.index, m.simulatedMs);
            else if (m.kind === 'done') {
              results[m.index] = m.run;
              feed();
            } else {
              failure ??= new MixscaleError(m.code as ErrorCode, m.message, m.details);
              feed();
            }
          });
          worker.on('error', reject);
          worker.on('exit', () => resolve());
        }),
    ),
  );
  if (failure !== undefined) throw failure;
  return results.map((r, i) => {
    if (r === undefined) throw new MixscaleError('MIXSCALE_INTERNAL', `simulation ${i + 1} of ${jobs.length} produced no result`);
    return r;
  });
}
