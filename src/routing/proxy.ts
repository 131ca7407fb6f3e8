import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Backend } from './backends.ts';
import { timerMs } from '../core/clock.ts';

/** Request headers passed through to a backend (the rest are hop-by-hop or router hints). */
const FORWARDED = ['content-type', 'inference-header-content-length', 'accept', 'traceparent', 'tracestate', 'x-request-id'] as const;

/** Response headers passed back to the client. */
const RETURNED = ['content-type', 'inference-header-content-length', 'content-encoding', 'retry-after'] as const;

/** How a relay treats the client's side. */
export interface RelayOptions {
  /**
   * Longest a client may leave the answer unread (the router's send buffer full) before its
   * connection is cut: a client that stops reading must not hold a backend slot forever.
   */
  readonly sendTimeoutMs: number;
  /** Called before the answer's head is written (the router ends the connection with it while shutting down). */
  readonly beforeHead: (res: ServerResponse) => void;
}

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
function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503;
}

/** How one forwarded request ended. */
export type ProxyOutcome =
  /** The backend's answer was relayed to the client. */
  | { readonly kind: 'relayed'; readonly status: number }
  /**
   * The backend answered 502/503 and `mayRetry` was set: nothing was sent to the client. Its
   * body (up to REFUSAL_BODY_LIMIT bytes) is kept, to pass on when no other backend can take it.
   */
  | { readonly kind: 'refused'; readonly status: number; readonly body: Buffer; readonly headers: Readonly<Record<string, string>> }
  /**
   * No whole answer: `answered` tells whether the backend had begun one (so it did take the
   * request: not safe to send elsewhere), `responded` whether part of it had reached the client.
   */
  | { readonly kind: 'failed'; readonly error: Error; readonly answered: boolean; readonly responded: boolean }
  /** The client went away first. */
  | { readonly kind: 'aborted' };

/** The most of a refused answer's body kept to pass on. */
const REFUSAL_BODY_LIMIT = 16 * 1024;

class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
  }
}

/**
 * Relays one backend response to the client with undici's dispatch API: no intermediate
 * stream, and a small answer leaves in one write (status line, headers and body together),
 * which is what most of the hot path's time goes to. Larger answers stream chunk by chunk with
 * backpressure.
 */
class RelayHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private discard = false;
  private refusal: Buffer[] = [];
  private refusalBytes = 0;
  /** The refusal's own headers among RETURNED (content-type, retry-after ...), to pass on with it. */
  private refusalHeaders: Record<string, string> = {};
  private started = false;
  private pending: Buffer | undefined;
  /** Response headers as a flat [name, value, ...] list (what writeHead takes without copying). */
  private headers: string[] = [];
  private settled = false;
  /** Cuts a client that leaves the answer unread (see RelayOptions.sendTimeoutMs). */
  private stalled: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly backendId: string,
    private readonly mayRetry: boolean,
    private readonly relay: RelayOptions,
    private readonly done: (o: ProxyOutcome) => void,
  ) {
    // One shared listener, no closure per request; it stays on this response (a retry reuses
    // it), which ends with the request, so nothing needs removing.
    const r = res as RelayedResponse;
    if (r[RELAY] === undefined) res.on('close', onClientClose);
    r[RELAY] = this;
  }

  /** The client closed its connection: stop the backend request unless the answer is complete. */
  clientClosed(): void {
    if (!this.settled && !this.res.writableFinished) this.controller?.abort(new ClientGone());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.res.destroyed) controller.abort(new ClientGone());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    if (this.mayRetry && isRetryableStatus(statusCode)) {
      this.discard = true;
      for (const h of RETURNED) {
        const v = headers[h];
        if (typeof v === 'string') this.refusalHeaders[h] = v;
      }
      return;
    }
    const out = ['x-mixscale-backend', this.backendId];
    for (const h of RETURNED) {
      const v = headers[h];
      if (typeof v === 'string') out.push(h, v);
    }
    this.headers = out;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.discard) {
      if (this.refusalBytes < REFUSAL_BODY_LIMIT) {
        const part = chunk.subarray(0, REFUSAL_BODY_LIMIT - this.refusalBytes);
        this.refusal.push(part);
        this.refusalBytes += part.length;
      }
      return;
    }
    if (this.pending === undefined && !this.started) {
      this.pending = chunk;
      return;
    }
    this.startStreaming();
    if (!this.res.write(chunk)) {
      controller.pause();
      // Cutting the connection closes the response: clientClosed then aborts the backend request.
      if (this.stalled === undefined) {
        this.stalled = setTimeout(() => this.res.destroy(), timerMs(this.relay.sendTimeoutMs)).unref();
        this.res.once('drain', () => {
          this.clearStall();
          controller.resume();
        });
      }
    }
  }

  onResponseEnd(): void {
    if (this.discard) return this.settle({ kind: 'refused', status: this.status, body: Buffer.concat(this.refusal, this.refusalBytes), headers: this.refusalHeaders });
    if (this.started) this.res.end();
    else {
      const body = this.pending;
      this.headers.push('content-length', String(body?.length ?? 0));
      this.writeHead();
      this.res.end(body);
    }
    this.settle({ kind: 'relayed', status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (error instanceof ClientGone || this.res.destroyed) return this.settle({ kind: 'aborted' });
    // A 502/503 cut short is still a refusal: the backend did not take the request.
    if (this.discard) return this.settle({ kind: 'refused', status: this.status, body: Buffer.concat(this.refusal, this.refusalBytes), headers: this.refusalHeaders });
    this.settle({ kind: 'failed', error, answered: this.status !== 0, responded: this.started });
  }

  /** A second chunk arrived: the answer is not small, so send headers and stream the rest. */
  private startStreaming(): void {
    if (this.started) return;
    this.started = true;
    this.writeHead();
    if (this.pending !== undefined) this.res.write(this.pending);
    this.pending = undefined;
  }

  private clearStall(): void {
    clearTimeout(this.stalled);
    this.stalled = undefined;
  }

  private writeHead(): void {
    this.relay.beforeHead(this.res);
    this.res.writeHead(this.status, this.headers);
  }

  private settle(o: ProxyOutcome): void {
    if (this.settled) return;
    this.settled = true;
    // A relayed answer whose tail the client has not read yet stays under the timer until it has.
    if (o.kind === 'relayed' && this.res.writableLength > 0 && !this.res.destroyed) {
      this.stalled ??= setTimeout(() => this.res.destroy(), timerMs(this.relay.sendTimeoutMs)).unref();
      this.res.once('finish', () => this.clearStall());
    } else this.clearStall();
    this.done(o);
  }
}

const RELAY = Symbol('mixscale.relay');
type RelayedResponse = ServerResponse & { [RELAY]?: RelayHandler };

/** 'close' listener shared by every relayed response (`this` is the response). */
function onClientClose(this: RelayedResponse): void {
  this[RELAY]?.clientClosed();
}

/**
 * Sends one buffered inference request to a backend over its keep-alive pool and relays the
 * answer to `res`; `done` gets the outcome. With `mayRetry`, a 502/503 answer is swallowed
 * (outcome `refused`) so the caller can try another backend.
 */
export function forward(backend: Backend, path: string, headers: IncomingHttpHeaders, body: Buffer, res: ServerResponse, mayRetry: boolean, relay: RelayOptions, done: (o: ProxyOutcome) => void): void {
  const out: Record<string, string> = { 'content-length': String(body.length) };
  for (const h of FORWARDED) {
    const v = headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  backend.dispatcher.dispatch({ origin: backend.origin, path, method: 'POST', headers: out, body }, new RelayHandler(res, backend.state.id, mayRetry, relay, done));
}
