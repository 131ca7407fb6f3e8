import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile } from '../src/config/load.ts';
import { createLogger, type LogLevel } from '../src/core/log.ts';
import { isMixscaleError } from '../src/core/errors.ts';
import { runSimulation } from './runner.ts';
import type { WorkerJob, WorkerMessage } from './parallel.ts';

/** One worker thread: runs the simulations it is sent, one at a time, and posts the results. */
const { configPath, logLevel } = workerData as { configPath: string; logLevel: LogLevel };
const loaded = loadConfigFile(configPath);
const logger = createLogger(logLevel);
const port = parentPort!;
const post = (m: WorkerMessage): void => port.postMessage(m);

port.on('message', (job: WorkerJob | null) => {
  if (job === null) {
    port.close();
    return;
  }
  runSimulation(loaded, { ...job.overrides, logger, onProgress: (t) => post({ kind: 'progress', index: job.index, simulatedMs: t }) })
    .then((run) => post({ kind: 'done', index: job.index, run }))
    .catch((e: unknown) =>
      post({
        kind: 'failed',
        index: job.index,
        code: isMixscaleError(e) ? e.code : 'MIXSCALE_INTERNAL',
        message: e instanceof Error ? e.message : String(e),
        details: isMixscaleError(e) ? { ...e.details } : {},
      }),
    );
});
post({ kind: 'ready' });
