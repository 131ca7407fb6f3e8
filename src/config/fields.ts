import { z } from 'zod';
import { parseDurationMs } from '../core/units.ts';
import type { SizeSpec } from '../core/sizes.ts';

/** Most slots (and maxOutstanding) one pool, backend or node may declare: more is a mistake, not a node. */
export const MAX_SLOTS = 10_000;

/** A duration: ms as a number, or a string with a unit. Parses to ms. */
export const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDurationMs(v);
  if (ms === undefined) {
    // The loader appends the value it got; the message must not repeat it.
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as "250ms", "30s", "5m", "2h" or a number of ms' });
    return z.NEVER;
  }
  return ms;
});

/** A duration that must be > 0 (a period, a window, a timeout, a target: zero makes no sense). */
export const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be a duration > 0' });

/** A byte size above zero: a number of bytes or "512kb", "1mb". Parses to bytes. */
export const byteSize = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(v);
  if (m === null) {
    ctx.addIssue({ code: 'custom', message: 'expected a size such as "512kb", "1mb" or a number of bytes' });
    return z.NEVER;
  }
  const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  const bytes = Math.round(Number(m[1]) * mult);
  // As for the number form: a limit of zero bytes refuses every request.
  if (!(bytes > 0)) {
    ctx.addIssue({ code: 'custom', message: 'must be a size above zero bytes' });
    return z.NEVER;
  }
  return bytes;
});

/** An address to listen on: an empty one would bind every interface (0.0.0.0 says so). */
export const listenHost = z
  .string()
  .refine((h) => h.trim() !== '', { message: 'expected an address to listen on (127.0.0.1, or 0.0.0.0 for every interface); an empty one listens on every interface' })
  .default('127.0.0.1');

/** What the local provider puts into a node command's arguments (src/cloud/local/local-provider.ts). */
const COMMAND_PLACEHOLDERS = ['type', 'model', 'pool', 'id', 'slots'] as const;

/** A node command (argv) for the local provider: a placeholder it does not fill would reach the node as typed. */
export const nodeCommand = z
  .array(
    z.string().min(1).superRefine((arg, ctx) => {
      // `${HOME}` is the shell's (an `sh -c` wrapper), not a placeholder.
      for (const m of arg.matchAll(/(?<!\$)\{([a-z_][a-z0-9_]*)\}/gi)) {
        if (!(COMMAND_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
          ctx.addIssue({ code: 'custom', message: `unknown placeholder {${m[1]}}; known: ${COMMAND_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` });
        }
      }
    }),
  )
  .min(1);

export const usdPerHour = z.number().positive({ message: 'must be a positive number of USD per hour' });

const wholeSize = z.number().int({ message: 'must be a whole number' }).positive();

export const sizeSpec: z.ZodType<SizeSpec> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('fixed'), size: z.number().positive() }),
    z.strictObject({ kind: z.literal('uniform'), min: wholeSize, max: wholeSize }).refine((s) => s.min <= s.max, { message: 'must be ≤ max', path: ['min'] }),
    z
      .strictObject({ kind: z.literal('lognormal'), mu: z.number(), sigma: z.number().positive(), min: z.number().positive().optional(), max: z.number().positive().optional() })
      .refine((s) => s.min === undefined || s.max === undefined || s.min <= s.max, { message: 'must be ≤ max', path: ['min'] }),
    z
      .strictObject({ kind: z.literal('mixture'), components: z.array(z.strictObject({ weight: z.number().positive(), dist: sizeSpec })).min(1) })
      // Weights are normalized by their sum: one that overflows it (1e308 twice) loses the others.
      .refine((s) => Number.isFinite(s.components.reduce((a, c) => a + c.weight, 0)), { message: 'weights must add up to a finite number (they are relative: 1, 2, 0.5 ...)', path: ['components'] }),
    z.strictObject({ kind: z.literal('kairos') }),
  ]),
) as z.ZodType<SizeSpec>;
