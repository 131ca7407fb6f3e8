import { z } from 'zod';
import { duration, MAX_SLOTS, nodeCommand, positiveDuration, usdPerHour } from './fields.ts';
import { controllerSection } from './sections/controller.ts';
import { nodeSection } from './sections/node.ts';
import { routerSection } from './sections/router.ts';
import { simSection } from './sections/sim.ts';

/**
 * The one config file every command reads. Every object is strict: an unknown key is an
 * error, not silently ignored. Defaults live here and only here (docs/config.md lists them).
 */
export const configSchema = z.strictObject({
  catalog: z
    .strictObject({
      /** Path to an instance catalog JSON (default: the bundled EC2 us-east-1 catalog). */
      path: z.string().optional(),
      /** Price overrides in USD per hour, by instance type. */
      prices: z.record(z.string(), usdPerHour).default({}),
    })
    .default({ prices: {} }),
  /** Extra service-time profile CSVs (the bundled Kairos profiles are always loaded). */
  profiles: z.array(z.string()).default([]),
  budget: z.strictObject({
    usdPerHour,
    /** Budgets that follow the clock: from each cron boundary on, this budget applies. */
    schedule: z.array(z.strictObject({ cron: z.string().min(1), usdPerHour })).default([]),
  }),
  classes: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, { message: 'must be letters, digits, - or _' }),
        model: z.string().min(1),
        slo: positiveDuration,
        sloQuantile: z.number().gt(0).lt(1).default(0.99),
        share: z.number().positive().default(1),
      }),
    )
    .min(1),
  pools: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, { message: 'must be letters, digits, - or _' }),
        type: z.string().min(1),
        slots: z.number().int().positive().max(MAX_SLOTS).default(1),
        /** Launch-to-ready delay (default by family: GPU 120s, others 60s). */
        bootTime: duration.refine((ms) => ms <= 86_400_000, { message: 'must be at most a day (1d)' }).optional(),
        minCount: z.number().int().nonnegative().default(0),
        maxCount: z.number().int().positive().default(1000),
        /** EC2 launch template (name or id) for this pool. */
        launchTemplate: z.string().optional(),
        /** Models this pool's nodes serve (default: every class's model). */
        models: z.array(z.string().min(1)).min(1).optional(),
        /** Local provider: argv of this pool's nodes (default: controller.local.command). */
        command: nodeCommand.optional(),
      }),
    )
    .min(1),
  scaling: z
    .strictObject({
      policy: z.string().default('fast-frugal'),
      // A control loop ticks at most once a second (a number is ms: `30` is 30 ms, not 30 s).
      interval: duration.refine((ms) => ms >= 1000 && ms <= 86_400_000, { message: 'must be from 1s to 1d (a bare number is milliseconds)' }).default(30_000),
      options: z.record(z.string(), z.unknown()).default({}),
    })
    .default({ policy: 'fast-frugal', interval: 30_000, options: {} }),
  routing: z
    .strictObject({
      policy: z.string().default('heterogeneity-aware'),
      options: z.record(z.string(), z.unknown()).default({}),
      /**
       * Late binding: each backend gets at most its slots in flight; a request that finds every
       * slot busy waits at the router and is bound to a backend when a slot frees.
       */
      lateBinding: z.boolean().default(true),
      /** With late binding: most requests waiting at the router; beyond, new ones are rejected (overloaded). */
      maxWaiting: z.number().int().positive().default(1000),
    })
    .default({ policy: 'heterogeneity-aware', options: {}, lateBinding: true, maxWaiting: 1000 }),
  sim: simSection.optional(),
  router: routerSection.optional(),
  controller: controllerSection.optional(),
  node: nodeSection.optional(),
});

export type Config = z.infer<typeof configSchema>;
