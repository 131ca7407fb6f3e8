import { z } from 'zod';
import { duration, positiveDuration, sizeSpec } from '../fields.ts';

/** `sim:` — the offline simulation (see docs/config.md). Owned by the simulator. */
export const simSection = z.strictObject({
  trace: z
    .strictObject({
      path: z.string().min(1),
      /** For rate series with several models (`t_s,model,rps`): which one to replay. */
      model: z.string().optional(),
      sizeColumn: z.string().optional(),
      timeScale: z.number().positive().default(1),
      peakRps: z.number().positive().optional(),
      start: duration.optional(),
      duration: positiveDuration.optional(),
      skipBadRows: z.boolean().default(false),
      /** Multiplies trace sizes (e.g. tokens → profile sizes) before lookup. */
      sizeScale: z.number().positive().default(1),
    })
    .optional(),
  /** Without a trace: a constant-rate Poisson load of this many requests per second... */
  rps: z.number().positive().max(1_000_000).optional(),
  /** ...for this long (required with rps). */
  duration: positiveDuration.optional(),
  /** Sizes for requests the trace does not size. */
  sizes: sizeSpec.default({ kind: 'kairos' }),
  seed: z.number().int().nonnegative().default(1),
  /** Scaling policies to compare (default: scaling.policy alone). */
  compare: z.array(z.string().min(1)).min(1, { message: 'name at least one scaling policy, or leave sim.compare out to run scaling.policy alone' }).optional(),
  /** Probability that a launch fails with a capacity error. */
  capacityErrorRate: z.number().min(0).max(1).default(0),
  /** Length of one report window (percentiles over time, fleet samples). */
  window: duration.refine((ms) => ms >= 1000, { message: 'must be at least 1s (a bare number is milliseconds)' }).default(60_000),
  /**
   * Start with the fleet the policy wants for the load at the trace's start already running
   * (control ticks and boots happen before t = 0), instead of an empty fleet at t = 0.
   */
  warmStart: z.boolean().default(true),
  /** Most requests a backend holds (in service + queued) per slot; beyond, the router rejects. */
  maxOutstandingPerSlot: z.number().int().positive().default(100),
  /**
   * Batching on fast (GPU) instances: when a slot frees, queued requests of the same class join
   * the head request as one query of their summed size, up to this size (0: no batching).
   */
  batchMaxSize: z.number().int().nonnegative().default(0),
}).refine((s) => s.trace === undefined || s.rps === undefined, { message: 'set either sim.trace or sim.rps, not both', path: ['rps'] })
  .refine((s) => s.rps === undefined || s.duration !== undefined, { message: 'sim.rps needs sim.duration', path: ['duration'] })
  .refine((s) => s.trace === undefined || s.duration === undefined, { message: 'goes with sim.rps; to replay part of the trace, set sim.trace.duration (and sim.trace.start)', path: ['duration'] });
