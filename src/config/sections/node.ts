import { z } from 'zod';
import { byteSize, listenHost, MAX_SLOTS, positiveDuration } from '../fields.ts';

/** Most rows one stage runs at once across requests (node.edge.maxBatch, --max-batch). */
export const MAX_BATCH_ROWS = 1024;
/** Most rows one request may carry (node.edge.maxRows, --max-rows). */
export const MAX_REQUEST_ROWS = 100_000;

/** `node:` — serving nodes for local runs (see docs/config.md and docs/nodes.md). Owned by the nodes. */
export const nodeSection = z.strictObject({
  host: listenHost,
  /** Largest request body a node accepts: bytes, or a size such as "4mb". */
  bodyLimit: byteSize.default(4 * 1024 * 1024),
  /** On SIGTERM, how long requests in flight may take before their connections are cut and the node exits. */
  shutdownTimeout: positiveDuration.default(30_000),
  edge: z
    .strictObject({
      /** Exit control: `predictive` (plan with measured stage times) or `reactive` (Dělen: check after each stage). */
      policy: z.enum(['predictive', 'reactive']).default('predictive'),
      /** Quantile of a stage's measured time the predictive policy plans with (1: the largest seen), as `--percentile`. */
      percentile: z.number().gt(0).max(1).default(0.99),
      /** Stop at an exit whose max probability reaches this, when the accuracy bound allows. */
      confidence: z.number().gt(0).max(1).default(0.95),
      /** Most rows one stage runs at once across requests (the warm-up turns batching off where it does not pay). */
      maxBatch: z.number().int().positive().max(MAX_BATCH_ROWS).default(8),
      /** Most rows one request may carry (a larger one is a 400): a stage's time grows with its rows. */
      maxRows: z.number().int().positive().max(MAX_REQUEST_ROWS).default(64),
      /** Warm-up runs per stage at startup (seed the latency histograms). */
      warmupRuns: z.number().int().positive().max(10_000).default(30),
      /** onnxruntime intra-op threads per stage session. */
      threads: z.number().int().positive().max(256).default(1),
    })
    .default({ policy: 'predictive', percentile: 0.99, confidence: 0.95, maxBatch: 8, maxRows: 64, warmupRuns: 30, threads: 1 }),
  emulated: z
    .strictObject({
      /** Requests an emulated node serves at once. */
      slots: z.number().int().positive().max(MAX_SLOTS).default(1),
      /** Seed of the service-time draws; unset, each process draws its own (nodes of one type must not share a sequence). */
      seed: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
    })
    .default({ slots: 1 }),
});

export type NodeConfig = z.infer<typeof nodeSection>;
