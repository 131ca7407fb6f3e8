import type { z } from 'zod';

/**
 * Typed errors with stable codes. A code never changes meaning once released; scripts and
 * tests match on `code`, humans read `message`. `userFault` errors are the user's to fix
 * (bad config, bad trace, unknown type): the CLI prints one line and no stack trace.
 */
export type ErrorCode =
  | 'MIXSCALE_CONFIG_INVALID'
  | 'MIXSCALE_USAGE'
  | 'MIXSCALE_CATALOG_UNKNOWN_TYPE'
  | 'MIXSCALE_CATALOG_INVALID'
  | 'MIXSCALE_PROFILE_GAP'
  | 'MIXSCALE_TRACE_INVALID'
  | 'MIXSCALE_REQUEST_INVALID'
  | 'MIXSCALE_MODEL_INVALID'
  | 'MIXSCALE_POLICY_UNKNOWN'
  | 'MIXSCALE_BUDGET_INFEASIBLE'
  | 'MIXSCALE_CLOUD_CAPACITY'
  | 'MIXSCALE_CLOUD_API'
  | 'MIXSCALE_BACKEND_UNAVAILABLE'
  | 'MIXSCALE_INTERRUPTED'
  | 'MIXSCALE_BUSY'
  | 'MIXSCALE_INTERNAL';

const USER_FAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'MIXSCALE_CONFIG_INVALID',
  'MIXSCALE_USAGE',
  'MIXSCALE_CATALOG_UNKNOWN_TYPE',
  'MIXSCALE_CATALOG_INVALID',
  'MIXSCALE_PROFILE_GAP',
  'MIXSCALE_TRACE_INVALID',
  'MIXSCALE_REQUEST_INVALID',
  'MIXSCALE_MODEL_INVALID',
  'MIXSCALE_POLICY_UNKNOWN',
  'MIXSCALE_BUDGET_INFEASIBLE',
]);

export class MixscaleError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MixscaleError';
    this.code = code;
    this.details = details;
  }

  get userFault(): boolean {
    return USER_FAULT.has(this.code);
  }
}

export class ConfigError extends MixscaleError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MIXSCALE_CONFIG_INVALID', message, details);
    this.name = 'ConfigError';
  }
}

export class ProfileGapError extends MixscaleError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MIXSCALE_PROFILE_GAP', message, details);
    this.name = 'ProfileGapError';
  }
}

export class TraceError extends MixscaleError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('MIXSCALE_TRACE_INVALID', message, details);
    this.name = 'TraceError';
  }
}

/** The first problem zod found in a file's JSON, as `field: what is wrong` (for one-line errors). */
export function shapeProblem(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.length > 0 ? `${issue.path.join('.')}: ` : ''}${issue.message.replace(/^Invalid input: /, '')}`;
}

export function isMixscaleError(e: unknown): e is MixscaleError {
  return e instanceof MixscaleError;
}
