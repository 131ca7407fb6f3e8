import { z } from 'zod';
import { duration, sizeSpec } from '../fields.ts';

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
      duration: duration.optional(),
      skipBadRows: z.boolean().default(false),
      /** Multiplies trace sizes (e.g. tokens → profile sizes) before lookup. */
      sizeScale: z.number().positive().default(1),
    })
    .optional(),
  /** Sizes for requests the trace does not size. */
  sizes: sizeSpec.default({ kind: 'kairos' }),
  seed: z.number().int().nonnegative().default(1),
  /** Scaling policies to compare (default: scaling.policy alone). */
  compare: z.array(z.string().min(1)).optional(),
  /** Probability that a launch fails with a capacity error. */
  capacityErrorRate: z.number().min(0).max(1).default(0),
  /** Length of one report window (percentiles over time, fleet samples). */
  window: duration.default(60_000),
});
