import { MixscaleError } from '../../core/errors.ts';

/** EC2 error codes that mean "not this type, not now": the type goes into a capacity cooldown. */
const CAPACITY_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'Unsupported',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
]);

const THROTTLING_CODES: ReadonlySet<string> = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'TooManyRequestsException']);

interface SdkError {
  name?: string;
  Code?: string;
  message?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Maps an AWS SDK error to MIXSCALE_CLOUD_CAPACITY or MIXSCALE_CLOUD_API (with retryable, and outcomeUnknown when EC2 may have acted). */
export function fromAwsError(e: unknown, op: string, type?: string): MixscaleError {
  if (e instanceof MixscaleError) return e;
  const err = (e ?? {}) as SdkError;
  const code = err.name ?? err.Code ?? 'Unknown';
  const message = `${op}: ${code}: ${err.message ?? String(e)}`;
  if (CAPACITY_CODES.has(code)) {
    return new MixscaleError('MIXSCALE_CLOUD_CAPACITY', message, { type, awsCode: code, retryable: true }, { cause: e });
  }
  const status = err.$metadata?.httpStatusCode ?? 0;
  const retryable = err.$retryable !== undefined || THROTTLING_CODES.has(code) || status >= 500;
  // A call that got no answer, or a server error, may still have been carried out (EC2 may have
  // launched the instances and lost the answer); a client error or throttling was refused.
  const outcomeUnknown = !THROTTLING_CODES.has(code) && (status === 0 || status >= 500);
  return new MixscaleError('MIXSCALE_CLOUD_API', message, { awsCode: code, retryable, outcomeUnknown, ...(type !== undefined ? { type } : {}) }, { cause: e });
}
