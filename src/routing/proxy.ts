import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Backend } from './backends.ts';

/** Request headers passed through to a backend (the rest are hop-by-hop or router hints). */
const FORWARDED = ['content-type', 'inference-header-content-length', 'accept', 'traceparent', 'tracestate', 'x-request-id'] as const;

/** Response headers passed back to the client. */
export const RETURNED = ['content-type', 'content-length', 'inference-header-content-length'] as const;

/**
 * Connection-level failures where the backend cannot have started the work: refused, reset or
 * closed before any response. These are safe to send to another backend. Timeouts are not:
 * the backend may still be computing, and a second copy would add load where it hurts.
 */
const SAFE_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

const TIMEOUT_ERRORS: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export type ProxyFailure = 'safe' | 'timeout' | 'other';

export function classifyError(e: unknown): ProxyFailure {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (SAFE_ERRORS.has(code)) return 'safe';
    if (TIMEOUT_ERRORS.has(code)) return 'timeout';
  }
  return 'other';
}

/** Statuses with which a backend says it did not take the request: safe to try elsewhere. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503;
}

/**
 * Sends one buffered inference request to a backend over its keep-alive pool. The response
 * body comes back as a stream for the caller to pipe, not buffered here.
 */
export function forward(backend: Backend, path: string, headers: IncomingHttpHeaders, body: Buffer, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  const out: Record<string, string> = { 'content-length': String(body.length) };
  for (const h of FORWARDED) {
    const v = headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return backend.dispatcher.request({ path, method: 'POST', headers: out, body, signal });
}
