import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MixscaleError } from '../../core/errors.ts';
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
    throw new MixscaleError('MIXSCALE_CLOUD_API', `local state ${path} is not JSON (${(e as Error).message}); move it away to start afresh`, { file: path, retryable: false });
  }
  const s = raw as Partial<LocalState>;
  if (s.cluster !== cluster) {
    throw new MixscaleError('MIXSCALE_CLOUD_API', `local state ${path} belongs to cluster "${String(s.cluster)}", not "${cluster}"; use another state file`, { file: path, retryable: false });
  }
  return { cluster, instances: s.instances ?? [], tokens: s.tokens ?? [], nextSeq: s.nextSeq ?? 1 };
}

export function writeState(path: string, state: LocalState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}
