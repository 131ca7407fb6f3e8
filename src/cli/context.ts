import { accessSync, constants, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../core/log.ts';
import { isMixscaleError, MixscaleError } from '../core/errors.ts';
import { decimal, parseDurationMs } from '../core/units.ts';
import { loadConfigFile, type LoadedConfig } from '../config/load.ts';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string;
  logLevel: LogLevel;
  json?: boolean | string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  if (!LOG_LEVELS.includes(opts.logLevel)) {
    throw new MixscaleError('MIXSCALE_USAGE', `--log-level: "${String(opts.logLevel)}" is not a level; allowed: ${LOG_LEVELS.join(', ')}`);
  }
  return opts;
}

export function loggerFor(cmd: Command): Logger {
  return createLogger(globalOptions(cmd).logLevel);
}

/** Loads --config, or the given default when the command has one. */
export function requireConfig(cmd: Command, fallback?: string): LoadedConfig {
  const path = globalOptions(cmd).config ?? fallback;
  if (path === undefined) throw new MixscaleError('MIXSCALE_USAGE', `${cmd.name()}: --config FILE is required`);
  return loadConfigFile(path);
}

/** Writes machine-readable output: to stdout when --json has no file, else to the file. */
export function jsonRequested(cmd: Command): boolean {
  return globalOptions(cmd).json !== undefined && globalOptions(cmd).json !== false;
}

/** The file `--json FILE` names, or undefined when the JSON goes to stdout (or is not asked for). */
export function jsonFile(cmd: Command): string | undefined {
  const j = globalOptions(cmd).json;
  return typeof j === 'string' ? j : undefined;
}

const USER_WRITE_ERRORS = new Set(['EACCES', 'EPERM', 'EISDIR', 'ENOENT', 'ENOTDIR', 'EROFS']);

function writeReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOENT':
      return 'no such folder';
    case 'ENOTDIR':
      return 'a parent is not a folder';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    default:
      return err.message ?? String(e);
  }
}

/**
 * Checks, before any work, that the output file `flag` names can be written: not a directory,
 * in a folder that exists, writable. Otherwise a usage error naming the flag and the path, so a
 * long run never ends in a write that fails.
 */
export function checkOutputFile(flag: string, path: string): void {
  const fail = (why: string): never => {
    throw new MixscaleError('MIXSCALE_USAGE', `${flag}: cannot write ${path}: ${why}`);
  };
  // The path's stats, or undefined when nothing is there (a missing file, or a missing folder on the way).
  const statOf = (p: string): Stats | undefined => {
    try {
      return statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' ? undefined : fail(writeReason(e));
    }
  };
  if (path.trim() === '') fail('empty file name');
  const st = statOf(path);
  if (st?.isDirectory() === true) fail('is a directory');
  if (/[\\/]$/.test(path)) fail('names a directory');
  // An existing file must be writable; a new one needs a writable folder.
  let writable = path;
  if (st === undefined) {
    writable = dirname(resolve(path));
    const folder = statOf(writable);
    if (folder === undefined) fail(`folder ${dirname(path)} does not exist`);
    else if (!folder.isDirectory()) fail(`${dirname(path)} is not a directory`);
  }
  try {
    accessSync(writable, constants.W_OK);
  } catch (e) {
    fail(writeReason(e));
  }
}

/** The JSON output: to the `--json FILE` when one is named (written with `writeOutputFile`), else to stdout. */
export function writeJsonOutput(cmd: Command, text: string): void {
  const file = jsonFile(cmd);
  if (file !== undefined) writeOutputFile('--json', file, text);
  else process.stdout.write(text);
}

/** `checkOutputFile` for `--json FILE`, when a file is named. */
export function checkJsonFile(cmd: Command): void {
  const file = jsonFile(cmd);
  if (file !== undefined) checkOutputFile('--json', file);
}

/**
 * Writes an output file (checked up front with `checkOutputFile`). A write that still fails
 * (permissions changed, disk full) is one line naming the flag and the path, not a stack trace.
 */
export function writeOutputFile(flag: string, path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new MixscaleError(code !== undefined && USER_WRITE_ERRORS.has(code) ? 'MIXSCALE_USAGE' : 'MIXSCALE_INTERNAL', `${flag}: cannot write ${path}: ${writeReason(e)}`);
  }
}

/** A flag's number written in decimal (see core/units' decimal). */
export { decimal };

/** A positive number given for `flag`, or a usage error naming the flag and the value. */
export function positiveNumber(flag: string, text: string): number {
  const n = decimal(text);
  if (!Number.isFinite(n) || !(n > 0)) throw new MixscaleError('MIXSCALE_USAGE', `${flag}: expected a positive number, got "${text}"`);
  return n;
}

/** A positive integer (or, with min 0, one ≥ 0) given for `flag`, or a usage error naming the flag and the value. */
export function positiveInteger(flag: string, text: string, min: 0 | 1 = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = decimal(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    const what = min === 0 ? 'an integer ≥ 0' : 'a positive integer';
    throw new MixscaleError('MIXSCALE_USAGE', `${flag}: expected ${what}${max < Number.MAX_SAFE_INTEGER || n > max ? ` up to ${max}` : ''}, got "${text}"`);
  }
  return n;
}

/** A duration given for `flag`: `90s`, `30m`, `2h`, `250ms`; a plain number is seconds. */
export function durationArg(flag: string, text: string): number {
  const ms = parseDurationMs(/^\d+(\.\d+)?$/.test(text) ? `${text}s` : text);
  if (ms === undefined) throw new MixscaleError('MIXSCALE_USAGE', `${flag}: expected a duration like 90s, 30m, 2h (plain numbers are seconds), got "${text}"`);
  return ms;
}

/** A duration above zero given for `flag` (a timeout, a window length). */
export function positiveDurationArg(flag: string, text: string): number {
  const ms = durationArg(flag, text);
  if (!(ms > 0)) throw new MixscaleError('MIXSCALE_USAGE', `${flag}: expected a duration above zero, got "${text}"`);
  return ms;
}

/** Where the user set what a trace error is about: a flag (`--start`) or a config field (`FILE: sim.trace.start`). */
export interface TraceSettingNames {
  readonly model?: string | undefined;
  readonly start?: string | undefined;
  /** What cut the window (`--start, --duration`), for an empty one. */
  readonly window?: string | undefined;
  readonly peakRps?: string | undefined;
  /** A size column asked of a trace that has none (a rate series). */
  readonly sizeColumn?: string | undefined;
}

/**
 * A trace error about a setting (the trace reader marks it with `details.setting`), reworded as a
 * usage error naming the flag or config field that set it, e.g. `--start: no arrivals in the
 * chosen window: ...`. Any other error comes back as it is.
 */
export function nameTraceSetting(e: unknown, names: TraceSettingNames): unknown {
  if (!isMixscaleError(e) || e.code !== 'MIXSCALE_TRACE_INVALID') return e;
  const { setting, detail } = e.details;
  if ((setting !== 'model' && setting !== 'start' && setting !== 'window' && setting !== 'peakRps' && setting !== 'sizeColumn') || typeof detail !== 'string') return e;
  const name = names[setting];
  return name === undefined ? e : new MixscaleError('MIXSCALE_USAGE', `${name}: ${detail}`, { ...e.details });
}

/** commander option parsers for the three above (and an integer ≥ 0). */
export const positiveNumberOption = (flag: string) => (text: string): number => positiveNumber(flag, text);
/** `--host`: an empty address would listen on every interface. */
export const hostOption = (text: string): string => {
  if (text.trim() === '') throw new MixscaleError('MIXSCALE_USAGE', '--host: expected an address to listen on (127.0.0.1, or 0.0.0.0 for every interface), got ""');
  return text;
};
export const positiveIntegerOption =
  (flag: string, max?: number) =>
  (text: string): number =>
    positiveInteger(flag, text, 1, max);
export const nonNegativeIntegerOption = (flag: string) => (text: string): number => positiveInteger(flag, text, 0);
export const durationOption = (flag: string) => (text: string): number => durationArg(flag, text);
export const positiveDurationOption = (flag: string) => (text: string): number => positiveDurationArg(flag, text);

/** The signals that stop a long-running command: SIGTERM (a supervisor) and SIGINT (Ctrl-C). */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Resolves with the first SIGTERM or SIGINT (each listened for once). */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    for (const s of STOP_SIGNALS) process.once(s, () => done(s));
  });
}

/** Calls onSignal at every SIGTERM or SIGINT until the returned function is called. */
export function onStopSignals(onSignal: () => void): () => void {
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  };
}
