import { pino, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Structured logs (JSON lines) on stderr, so stdout stays for summaries and --json output.
 * Level from --log-level, else MIXSCALE_LOG_LEVEL, else info.
 */
export function createLogger(level: LogLevel = (process.env.MIXSCALE_LOG_LEVEL as LogLevel | undefined) ?? 'info', name = 'mixscale'): Logger {
  return pino({ name, level, base: { name } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that writes nothing (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' });
