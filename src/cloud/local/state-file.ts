import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { MixscaleError, shapeProblem } from '../../core/errors.ts';
import type { Ms } from '../../core/types.ts';

/** One local "instance": a child process we launched. */
export interface LocalRecord {
  readonly id: string;
  readonly type: string;
  readonly pool: string;
  readonly pid: number;
  readonly launchedAtMs: Ms;
  /** File the process's stdout goes to: its first line names the URL it listens on. */
  readonly stdoutPath: string;
  address?: string;
  /** When terminate() sent SIGTERM to its process group; it is listed as shutting down until it exits. */
  stoppingSinceMs?: Ms;
  /** When it got SIGKILL for outliving the grace period. */
  killedAtMs?: Ms;
}

export interface LocalState {
  readonly cluster: string;
  instances: LocalRecord[];
  /** clientToken → ids it launched (newest last; bounded). */
  tokens: { token: string; ids: string[] }[];
  nextSeq: number;
}

const stateSchema = z.object({
  cluster: z.string(),
  instances: z
    .array(
      z.object({
        id: z.string(),
        type: z.string(),
        pool: z.string(),
        pid: z.number().int().positive(),
        launchedAtMs: z.number(),
        stdoutPath: z.string(),
        address: z.string().optional(),
        stoppingSinceMs: z.number().optional(),
        killedAtMs: z.number().optional(),
      }),
    )
    .default([]),
  tokens: z.array(z.object({ token: z.string(), ids: z.array(z.string()) })).default([]),
  nextSeq: z.number().int().positive().default(1),
});

/**
 * The local provider's memory across controller restarts. Written whole to a temp file and
 * renamed over the old one, so a controller killed mid-write leaves the previous state, never
 * half of one.
 */
export function readState(path: string, cluster: string): LocalState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { cluster, instances: [], tokens: [], nextSeq: 1 };
    throw new MixscaleError('MIXSCALE_CLOUD_API', `cannot read local state ${path}: ${(e as Error).message}`, { file: path, retryable: false });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new MixscaleError('MIXSCALE_USAGE', `local state ${path} is not JSON (${(e as Error).message}); move it away to start afresh`, { file: path, retryable: false });
  }
  const r = stateSchema.safeParse(raw);
  if (!r.success) {
    throw new MixscaleError('MIXSCALE_USAGE', `local state ${path}: ${shapeProblem(r.error)}; move it away to start afresh (its nodes must then be stopped by hand)`, { file: path, retryable: false });
  }
  if (r.data.cluster !== cluster) {
    throw new MixscaleError('MIXSCALE_USAGE', `local state ${path} belongs to cluster "${r.data.cluster}", not "${cluster}"; use another state file`, { file: path, retryable: false });
  }
  // JSON has no undefined: the optional fields are absent or set, as LocalState has them.
  return r.data as LocalState;
}

export function writeState(path: string, state: LocalState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}
