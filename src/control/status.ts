import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { MixscaleError, shapeProblem } from '../core/errors.ts';
import { sameMix, type Mix, type Ms } from '../core/types.ts';
import type { TickRecord } from './loop.ts';

/** One tick, as `mixscale controller status` shows it. */
export interface TickSummary {
  readonly seq: number;
  readonly atMs: Ms;
  readonly status: TickRecord['status'];
  readonly budgetUsdPerHour: number;
  readonly spendUsdPerHour?: number;
  readonly plannedSpendUsdPerHour?: number;
  /** The mix decided for this tick: an interim step while `movingTo` is set. */
  readonly mix?: Mix;
  /** While instances drain (their money held), the mix the fleet is moving to. */
  readonly movingTo?: Mix;
  readonly target?: Mix;
  readonly reason?: string;
  readonly predictedP99Ms?: Readonly<Record<string, number>>;
  readonly actions: readonly string[];
  readonly failures: readonly string[];
  readonly error?: string;
  readonly dryRun: boolean;
}

/** What a running controller leaves for `controller status`: written after every tick. */
export interface ControllerStatus {
  readonly cluster: string;
  readonly provider: string;
  readonly pid: number;
  readonly updatedAtMs: Ms;
  readonly ticks: readonly TickSummary[];
  /** Drains in progress (instance id → drain start ms): a restarted controller finishes them. */
  readonly draining?: Readonly<Record<string, Ms>>;
  /** Types in a capacity cooldown (type → when it ends, ms): a restarted controller, or the next `--once`, keeps them. */
  readonly cooldowns?: Readonly<Record<string, Ms>>;
}

export function summarizeTick(r: TickRecord): TickSummary {
  const rec = r.reconcile;
  const predicted: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.decision?.plan?.predicted ?? {})) predicted[k] = v.p99Ms;
  return {
    seq: r.seq,
    atMs: r.atMs,
    status: r.status,
    budgetUsdPerHour: r.budgetUsdPerHour,
    ...(rec !== undefined ? { spendUsdPerHour: rec.spendUsdPerHour, plannedSpendUsdPerHour: rec.plannedSpendUsdPerHour, target: rec.target } : {}),
    ...(r.decision !== undefined ? { mix: r.decision.mix, ...(movingTo(r.decision) !== undefined ? { movingTo: r.decision.movingTo } : {}), reason: r.decision.reason } : {}),
    ...(Object.keys(predicted).length > 0 ? { predictedP99Ms: predicted } : {}),
    actions: (rec?.actions ?? []).map((a) => `${a.kind} ${a.kind === 'launch' ? `${a.count}×${a.type}` : `${a.id} (${a.type})`}: ${a.reason}`),
    failures: (rec?.failures ?? []).map((f) => `${f.action.kind}: ${f.code}: ${f.message}`),
    ...(r.error !== undefined ? { error: `${r.error.code}: ${r.error.message}` } : {}),
    dryRun: rec?.dryRun ?? false,
  };
}

/** The mix a decision moves the fleet to, when its mix is an interim step toward another. */
export function movingTo(d: { readonly mix: Mix; readonly movingTo?: Mix }): Mix | undefined {
  return d.movingTo !== undefined && !sameMix(d.movingTo, d.mix) ? d.movingTo : undefined;
}

/** Written to a temp file and renamed, so a reader never sees half of it. */
export function writeStatus(path: string, status: ControllerStatus): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`);
  renameSync(tmp, path);
}

/** What `controller status` and a restarting controller read of a tick: checked, the rest kept as is. */
const tickSchema = z.looseObject({
  seq: z.number(),
  atMs: z.number().refine(Number.isFinite, 'expected a time in ms'),
  status: z.enum(['ok', 'held', 'failed', 'skipped']),
  mix: z.record(z.string(), z.number()).optional(),
  movingTo: z.record(z.string(), z.number()).optional(),
  reason: z.string().optional(),
  error: z.string().optional(),
  actions: z.array(z.string()),
  failures: z.array(z.string()).default([]),
});

const statusSchema = z.looseObject({
  cluster: z.string(),
  provider: z.string(),
  pid: z.number().int(),
  updatedAtMs: z.number().refine(Number.isFinite, 'expected a time in ms'),
  ticks: z.array(tickSchema),
  draining: z.record(z.string(), z.number()).optional(),
  cooldowns: z.record(z.string(), z.number()).optional(),
});

/**
 * The status file, or undefined when there is none. A file that is not JSON, or not the shape
 * a controller writes, is a MIXSCALE_USAGE error naming the file and the field.
 */
export function readStatus(path: string): ControllerStatus | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MixscaleError('MIXSCALE_USAGE', `cannot read controller status ${path}: ${(e as Error).message}`, { file: path });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MixscaleError('MIXSCALE_USAGE', `controller status ${path} is not JSON: ${(e as Error).message}`, { file: path });
  }
  const r = statusSchema.safeParse(raw);
  if (!r.success) throw new MixscaleError('MIXSCALE_USAGE', `controller status ${path}: ${shapeProblem(r.error)}; move it away (the controller writes a new one)`, { file: path });
  // The fields read back are checked; the rest (kept as written) only travels along.
  return r.data as unknown as ControllerStatus;
}
