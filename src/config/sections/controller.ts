import cron from 'node-cron';
import { z } from 'zod';
import { duration, listenHost, nodeCommand, positiveDuration } from '../fields.ts';

const cronExpr = z.string().refine((s) => cron.validate(s), { message: 'not a node-cron expression (six fields, seconds first, e.g. "*/30 * * * * *")' });

/** `controller:` — the control loop and its cloud (see docs/config.md). Owned by the controller. */
export const controllerSection = z.strictObject({
  provider: z.enum(['aws', 'local']).default('local'),
  /** Value of the mixscale:cluster tag: the controller sees and touches only instances carrying it. */
  cluster: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { message: 'must be 1-40 lowercase letters, digits or -' })
    .default('mixscale'),
  /** node-cron expression (six fields: seconds first) for control ticks. */
  schedule: cronExpr.default('*/30 * * * * *'),
  routerUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Where observations come from: the router's /v1/snapshot, or CloudWatch metrics the router publishes. */
  observe: z.enum(['router', 'cloudwatch']).default('router'),
  launchTimeout: positiveDuration.default(600_000),
  /** Longest a drain may take before the instance is terminated anyway. */
  drainTimeout: duration.default(120_000),
  /** How long a type that hit a capacity error is left out of plans. */
  capacityCooldown: duration.default(600_000),
  /** Folder (relative to the config file) for the status file and the local provider's state. */
  stateDir: z.string().default('.mixscale'),
  /** Prometheus /metrics of the controller; port 0 picks one, omit the section to serve none. */
  metrics: z
    .strictObject({ host: listenHost, port: z.number().int().min(0).max(65535).default(9464) })
    .optional(),
  /**
   * Smoothing and forecasting of the observed load (Knative-style stable/panic windows, optional
   * forecast; src/control/estimator.ts). Omitted: plan for exactly what was observed.
   */
  estimator: z
    .strictObject({
      stableWindow: positiveDuration.default(60_000),
      panicWindow: positiveDuration.default(6_000),
      panicThreshold: z.number().gt(1).default(2),
      forecast: z.enum(['none', 'seasonal-naive', 'holt']).default('none'),
      horizon: duration.default(120_000),
      season: positiveDuration.default(86_400_000),
    })
    .refine((e) => e.panicWindow <= e.stableWindow, { message: 'must be ≤ stableWindow', path: ['panicWindow'] })
    .optional(),
  aws: z
    .strictObject({
      /** Default: the SDK chain (AWS_REGION, profile). */
      region: z
        .string()
        .regex(/^[a-z]{2,4}(-[a-z]+)+-\d+$/, { message: 'expected an AWS region such as us-east-1' })
        .optional(),
      /** A compatible endpoint; `--endpoint-url` overrides it. */
      endpointUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      /** Port the node serves on inside each instance. */
      backendPort: z.number().int().min(1).max(65535).default(8000),
      /**
       * Path the controller GETs on a running instance (http://IP:backendPort) to know it serves
       * (200); until then it counts as booting. null: EC2's running is ready (the controller
       * cannot reach the nodes).
       */
      readinessPath: z.string().startsWith('/').nullable().default('/v2/health/ready'),
      /** CloudWatch namespace read when `observe: cloudwatch`. */
      namespace: z.string().min(1).default('mixscale/router'),
    })
    .default({ backendPort: 8000, readinessPath: '/v2/health/ready', namespace: 'mixscale/router' }),
  local: z
    .strictObject({
      /** argv of one node; {type} {model} {pool} {id} {slots} are filled in. Default: `mixscale node emulated --type {type} --model {model} --slots {slots} --port 0`. */
      command: nodeCommand.optional(),
      /** Model the nodes serve (default: the first class's model). */
      model: z.string().min(1).optional(),
      /** Extra delay before a started node counts as running (emulates boot). */
      bootDelay: duration.default(0),
    })
    .default({ bootDelay: 0 }),
});

export type ControllerSettings = z.infer<typeof controllerSection>;
