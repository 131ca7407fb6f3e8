import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMixscaleError, MixscaleError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

/**
 * One controller per cluster: a running loop (or --once) holds `controller-CLUSTER.lock` in the
 * state dir, with its pid. A second one refuses to start while that pid is a live controller
 * (two loops on one fleet undo each other's plans, and `down` trusted the status file, which the
 * last writer wins). A lock whose process is gone is taken over under a guard directory, so that
 * two starters cannot both take it. Where the state dir cannot be written, the controller runs
 * without the lock and says so (as it runs without its status file). Returns the release function
 * (also run at exit).
 */
export function lockCluster(file: string, cluster: string, logger: Logger): () => void {
  const guard = `${file}.takeover`;
  const busy = (pid: number): MixscaleError =>
    new MixscaleError('MIXSCALE_BUSY', `controller: the controller of cluster "${cluster}" is already running as pid ${pid} (${file}); one controller per cluster`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    for (let attempt = 0; attempt < 200; attempt++) {
      if (createLock(file)) return releaseLock(file);
      const holder = lockHolder(file);
      if (holder !== undefined) throw busy(holder);
      if (!createGuard(guard)) {
        sleepSync(10);
        continue;
      }
      try {
        const again = lockHolder(file);
        if (again !== undefined) throw busy(again);
        rmSync(file, { force: true }); // stale: its controller is gone
        if (createLock(file)) return releaseLock(file);
      } finally {
        rmSync(guard, { recursive: true, force: true });
      }
    }
    // Another starter held the takeover for 2 s: not a reason to run without the lock.
    throw new MixscaleError('MIXSCALE_BUSY', `controller: another controller of cluster "${cluster}" is taking over its stale lock (${guard}); try again`);
  } catch (e) {
    if (isMixscaleError(e)) throw e;
    logger.warn({ file, err: (e as Error).message }, "cannot take the cluster's lock (is controller.stateDir writable?); running without it");
    return () => {};
  }
}

function createLock(file: string): boolean {
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The takeover guard; one left by a starter that died holding it expires after 10 s. */
function createGuard(guard: string): boolean {
  try {
    mkdirSync(guard);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const since = statSync(guard, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
    if (Date.now() - since > 10_000) rmSync(guard, { recursive: true, force: true });
    return false;
  }
}

function releaseLock(file: string): () => void {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    if (lockHolderPid(file) === process.pid) rmSync(file, { force: true });
  };
  process.once('exit', release);
  return release;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function lockHolderPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid in a lock file when it is a live controller other than this process. */
export function lockHolder(file: string): number | undefined {
  const pid = lockHolderPid(file);
  return pid !== undefined && controllerRunning(pid) ? pid : undefined;
}

/**
 * Whether `pid` is a live controller process: alive, and where /proc shows its command line,
 * one that runs `controller` (a pid reused by something else since does not count).
 */
export function controllerRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes('controller');
  } catch {
    return true;
  }
}
