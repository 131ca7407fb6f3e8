import { z } from 'zod';
import { backendIdProblem } from '../../routing/backends.ts';
import { byteSize, listenHost, MAX_SLOTS, positiveDuration } from '../fields.ts';

const backend = z.strictObject({
  id: z
    .string()
    .superRefine((s, ctx) => {
      const problem = backendIdProblem(s);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional(),
  url: z.url(),
  type: z.string().min(1),
  pool: z.string().min(1).optional(),
  slots: z.number().int().positive().max(MAX_SLOTS).optional(),
  maxOutstanding: z.number().int().positive().max(MAX_SLOTS).optional(),
});

/** `router:` — the HTTP request router (see docs/config.md). Owned by the router. */
export const routerSection = z.strictObject({
  listen: z.strictObject({ host: listenHost, port: z.number().int().min(0).max(65535).default(8080) }).default({ host: '127.0.0.1', port: 8080 }),
  /** Bearer token for the admin API; falls back to env MIXSCALE_ADMIN_TOKEN. */
  adminToken: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  bodyLimit: byteSize.default(1024 * 1024),
  requestTimeout: positiveDuration.default(30_000),
  /** On SIGTERM, longest the router waits for requests in flight before it cuts them and exits. */
  shutdownTimeout: positiveDuration.default(30_000),
  /** Most requests kept in flight to one backend (its queue included) unless the backend sets its own. */
  maxOutstanding: z.number().int().positive().default(64),
  /** Keep-alive connections the router opens to one backend. */
  connectionsPerBackend: z.number().int().positive().default(32),
  health: z
    .strictObject({
      /** How often each backend's /v2/health/ready is probed. */
      interval: positiveDuration.default(5_000),
      /** Consecutive failed requests or probes that mark a backend unhealthy. */
      failures: z.number().int().positive().default(3),
      timeout: positiveDuration.default(2_000),
    })
    .default({ interval: 5_000, failures: 3, timeout: 2_000 }),
  /** Span of the windowed load that GET /v1/snapshot reports. */
  snapshotWindow: positiveDuration.default(60_000),
  /** Seconds a 503 asks the client to wait (retry-after). */
  retryAfterSeconds: z.number().int().positive().default(1),
  /** Publish latency and load to CloudWatch (PutMetricData with values/counts), batched. */
  cloudwatch: z
    .strictObject({
      namespace: z.string().min(1).default('mixscale/router'),
      region: z.string().min(1).optional(),
      interval: positiveDuration.default(60_000),
    })
    .optional(),
  backends: z.array(backend).default([]),
});

export type RouterSettings = z.infer<typeof routerSection>;
