import { z } from 'zod';
import { duration } from '../fields.ts';

/** `controller:` — the control loop and its cloud (see docs/config.md). Owned by the controller. */
export const controllerSection = z.strictObject({
  provider: z.enum(['aws', 'local']).default('local'),
  /** node-cron expression (six fields: seconds first) for control ticks. */
  schedule: z.string().default('*/30 * * * * *'),
  routerUrl: z.url().optional(),
  launchTimeout: duration.default(600_000),
});
