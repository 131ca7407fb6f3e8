import type { Command } from 'commander';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../core/log.ts';
import { MixscaleError } from '../core/errors.ts';
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

/** A command whose issue has not landed yet: says so and exits 2 (the only allowed stub). */
export function notYetAvailable(what: string): never {
  throw new MixscaleError('MIXSCALE_NOT_AVAILABLE', `${what} is not yet available in this version`);
}
