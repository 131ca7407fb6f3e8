import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { Clock, TimerHandle } from '../core/clock.ts';
import { MixscaleError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Backend, BackendSet } from './backends.ts';
import type { RouterMetrics, RouterRejectReason } from './metrics.ts';
import { queuedWaitMs, type PoolTracker } from './pool.ts';
import { classifyError, forward, type ProxyOutcome, type RelayOptions } from './proxy.ts';
import { parseInfer, type ClassTable, type ParsedInfer } from './request.ts';
import type { BackendState, RoutingPolicy } from './types.ts';
import { WaitQueue } from './waiting.ts';

export interface InferRouterOptions {
  readonly clock: Clock;
  readonly log: Logger;
  readonly backends: BackendSet;
  readonly tracker: PoolTracker;
  readonly policy: RoutingPolicy;
  readonly classes: ClassTable;
  readonly metrics: RouterMetrics;
  readonly bodyLimit: number;
  readonly retryAfterSeconds: number;
  /** Longest a client may leave an answer unread before its connection is cut (router.requestTimeout). */
  readonly sendTimeoutMs: number;
  /**
   * Late binding: requests that find every backend slot busy wait here (at most `maxWaiting`)
   * until a slot frees, their deadline passes or `maxWaitMs` runs out. Undefined: off.
   */
  readonly lateBinding?: { readonly maxWaiting: number; readonly maxWaitMs: number };
  /**
   * The largest size any backend type serving `model` is profiled for (the config's pools that
   * serve it and the backends present), or undefined when some such type has no profile for it.
   * Asked only when the policy places no backend: a larger request is a client error (400).
   */
  readonly largestProfiledSize?: (model: string) => number | undefined;
}

/**
 * How the first backend tried failed, when the failure was safe to retry elsewhere: passed on
 * to the client as it was when no other backend can take the request.
 */
interface FirstFailure {
  readonly backend: Backend;
  readonly status: number;
  readonly message: string;
  /** The backend's own answer (a 502/503 it sent), when it sent one. */
  readonly body?: Buffer;
  /** Its headers worth passing on with it (content-type, retry-after ...). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a waiting retry resolves to when no backend but the one that refused it is left. */
const PASS_ON = 'pass-on';

/** A request waiting at the router for a backend slot. */
interface Waiter {
  resolve(state: BackendState | null | typeof PASS_ON): void;
  /** Answers it with a rejection (it has left the waiting room already). */
  refuse(reason: RouterRejectReason, message: string): void;
  /** A retry: hands it back to be answered with the first backend's failure (it has left the waiting room). */
  passOn(): void;
  /**
   * Marks it bound, expired, refused or abandoned (nothing more happens to it here) and stops
   * its timer; false when it already was.
   */
  settle(): boolean;
  timer: TimerHandle | undefined;
  /** The client's response: shutdown waits for a refusal to have left. */
  readonly res: ServerResponse;
}

/** Writes an answer in OIP's error shape: `{"error": "..."}`. */
export function sendError(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

class BodyTooLarge extends Error {}

/**
 * Reads a request body into one Buffer, refusing more than `limit` bytes; calls `done` exactly
 * once. A callback, not a promise: this is on every request's path.
 */
function readBody(req: IncomingMessage, limit: number, done: (err: Error | null, body?: Buffer) => void): void {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return done(new BodyTooLarge());
  const r = new BodyRead(done);
  req.on('data', (c: Buffer) => {
    if (r.called) return;
    if (r.add(c) > limit) {
      req.removeAllListeners('data');
      req.resume();
      r.finish(new BodyTooLarge());
    }
  });
  req.on('end', () => r.finish(null, r.body()));
  req.on('error', (e: Error) => r.finish(e));
  // A client that disconnects mid-body must not leave the request counted as in flight.
  req.on('close', () => {
    if (!req.complete) r.finish(new Error('client closed the connection before sending the whole body'));
  });
}

/**
 * The body as the client meant it: gzip, deflate and br are decoded (as the nodes' body parser
 * does), up to `limit` bytes decoded; the router forwards the decoded bytes (content-encoding
 * is not passed on). Anything else is refused with 415 naming the header.
 */
function decodeBody(body: Buffer, encoding: string | undefined, limit: number): Buffer {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return body;
  const decode = e === 'gzip' || e === 'x-gzip' ? gunzipSync : e === 'deflate' ? inflateSync : e === 'br' ? brotliDecompressSync : undefined;
  if (decode === undefined) {
    throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `content-encoding: "${encoding ?? ''}" is not supported (send identity, gzip, deflate or br)`, { field: 'content-encoding', status: 415 });
  }
  try {
    return decode(body, { maxOutputLength: limit });
  } catch (err) {
    if (err instanceof RangeError) throw new BodyTooLarge();
    throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `body: not valid ${e} data (content-encoding: ${e}): ${(err as Error).message}`, { field: 'body' });
  }
}

/** The chunks of one body being read, and whether its callback has run (once only). */
class BodyRead {
  called = false;
  private first: Buffer | undefined;
  private chunks: Buffer[] | undefined;
  private length = 0;
  constructor(private readonly done: (err: Error | null, body?: Buffer) => void) {}
  /** Adds a chunk; returns the length so far. */
  add(c: Buffer): number {
    this.length += c.length;
    if (this.first === undefined) this.first = c;
    else (this.chunks ??= [this.first]).push(c);
    return this.length;
  }
  body(): Buffer {
    return this.chunks !== undefined ? Buffer.concat(this.chunks, this.length) : (this.first ?? Buffer.alloc(0));
  }
  finish(err: Error | null, body?: Buffer): void {
    if (this.called) return;
    this.called = true;
    this.done(err, body);
  }
}

/**
 * One inference request in the router: its answer is written once (`done`), or a router bug
 * answers 500 (`bug`). Methods, not closures: named functions made per request cost real time
 * on the hot path.
 */
class Call {
  private ended = false;
  constructor(
    private readonly router: InferRouter,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly model: string,
  ) {}
  done(): void {
    if (this.ended) return;
    this.ended = true;
    this.router.ended();
  }
  bug(e: unknown): void {
    if (this.ended) return;
    this.router.logBug(e, this.model);
    sendError(this.res, 500, 'internal router error');
    this.done();
  }
}

/**
 * The inference hot path on plain node request/response objects (mounted in express, or
 * called directly by the lean listener): read and classify the request, ask the routing
 * policy for a backend over the shared PoolTracker, forward it, stream the answer back, retry
 * once elsewhere when the failure was safe, and account for it in the tracker and metrics.
 */
export class InferRouter {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private closing = false;
  private readonly relay: RelayOptions;

  /** Per-request log lines only at debug level (checked once: the hot path skips them otherwise). */
  private readonly debug: boolean;
  private readonly waiting: WaitQueue<Waiter> | undefined;

  constructor(private readonly o: InferRouterOptions) {
    this.debug = o.log.isLevelEnabled('debug');
    this.relay = { sendTimeoutMs: o.sendTimeoutMs, beforeHead: (res) => this.lastOnConnection(res) };
    this.waiting = o.lateBinding === undefined ? undefined : new WaitQueue<Waiter>(o.lateBinding.maxWaiting);
  }

  /** Requests waiting for a backend slot (late binding). */
  get requestsWaiting(): number {
    return this.waiting?.length ?? 0;
  }

  /**
   * Late binding: `state` may have free slots (a request finished, or it was added or became
   * healthy); the policy gives them waiting requests, each counted as dispatched at once.
   */
  bindWaiting(state: BackendState): void {
    const q = this.waiting;
    if (q === undefined || q.length === 0) return;
    const { tracker, metrics } = this.o;
    while (q.bind(state, this.o.policy, tracker)) {
      const w = q.boundHandle!;
      if (!w.settle()) continue;
      metrics.beforeLoadChange(state);
      tracker.dispatched(state, tracker.expectedServiceMs(state, q.boundReq!));
      w.resolve(state);
    }
  }

  /**
   * Late binding: a backend stopped taking requests (draining, unhealthy, removed). Requests
   * that waited for it are offered every backend with a free slot, and those whose model no
   * backend takes any more are refused at once (503 no-backend) instead of waiting out their
   * deadline.
   */
  rebindWaiting(): void {
    const q = this.waiting;
    if (q === undefined || q.length === 0) return;
    const { tracker } = this.o;
    for (const s of tracker.backends) if (s.accepting) this.bindWaiting(s);
    q.removeStranded(
      (model, excluded) => !tracker.viewFor(model).backends.some((b) => b.accepting && b !== excluded),
      (w, req, excluded) => {
        // A retry with no backend left but the one that refused it: the client gets that failure.
        if (excluded !== undefined) return void w.passOn();
        w.refuse('no-backend', `no backend serving model "${req.model}" is left to take this request`);
      },
    );
  }

  /**
   * Holds a request until a slot is bound to it (returned, already counted as dispatched), or
   * answers it and returns null: the waiting room is full, its deadline or the wait limit passed,
   * or the client went away.
   */
  private wait(p: ParsedInfer, res: ServerResponse, q: WaitQueue<Waiter>, maxWaitMs: number, exclude: BackendState | undefined): Promise<BackendState | null | typeof PASS_ON> {
    const ci = p.req.classIndex;
    return new Promise((resolve) => {
      let settled = false;
      const w: Waiter = {
        resolve,
        res,
        timer: undefined,
        settle: () => {
          if (settled) return false;
          settled = true;
          if (w.timer !== undefined) this.o.clock.clearTimeout(w.timer);
          return true;
        },
        refuse: (reason, message) => {
          if (!w.settle()) return;
          this.reject(res, ci, reason, message);
          resolve(null);
        },
        passOn: () => {
          if (w.settle()) resolve(PASS_ON);
        },
      };
      if (!q.hold(p.req, w, exclude)) {
        this.reject(res, ci, 'overloaded', `every backend slot is busy and ${q.max} requests are already waiting (routing.maxWaiting)`);
        resolve(null);
        return;
      }
      const now = this.o.clock.now();
      const byDeadline = p.req.deadlineMs <= p.req.arrivalMs + maxWaitMs;
      const until = Math.min(p.req.deadlineMs, p.req.arrivalMs + maxWaitMs);
      w.timer = this.o.clock.setTimeout(() => {
        w.timer = undefined; // (fired: nothing to stop)
        if (!w.settle()) return;
        q.remove(w);
        if (byDeadline) this.reject(res, ci, 'deadline', `no backend slot freed before the request's ${Math.round(p.req.deadlineMs - p.req.arrivalMs)} ms deadline`);
        else this.reject(res, ci, 'overloaded', `no backend slot freed within ${Math.round(maxWaitMs)} ms (router.requestTimeout)`);
        resolve(null);
      }, Math.max(0, until - now));
      res.on('close', () => {
        if (!w.settle()) return;
        q.remove(w);
        this.o.metrics.abandoned(ci);
        resolve(null);
      });
    });
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Refuse new requests from now on (503), letting in-flight ones finish. */
  stopAccepting(): void {
    this.closing = true;
  }

  get accepting(): boolean {
    return !this.closing;
  }

  /**
   * Shutdown's cut: answers every request still waiting for a backend slot 503 shutting-down with
   * retry-after (none was sent to a backend, so a retry is safe) rather than dropping its
   * connection. Returns how many there were, and when their answers have all left.
   */
  refuseWaiting(): { count: number; sent: Promise<void> } {
    const waiting = this.waiting?.drainAll() ?? [];
    const sent = waiting.map((w) => new Promise<void>((resolve) => (w.res.writableFinished || w.res.destroyed ? resolve() : (w.res.once('finish', resolve), w.res.once('close', resolve)))));
    for (const w of waiting) w.refuse('shutting-down', 'router shut down before a backend slot was free for this request (it was not sent to a backend: safe to retry)');
    return { count: waiting.length, sent: Promise.all(sent).then(() => undefined) };
  }

  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Serves one inference request: reads, routes and answers it (errors inside the router → 500). */
  handle(req: IncomingMessage, res: ServerResponse, model: string): void {
    const arrival = this.o.clock.now();
    this.inFlight++;
    const call = new Call(this, req, res, model);
    try {
      this.serve(call, arrival);
    } catch (e) {
      call.bug(e);
    }
  }

  /** A request has been answered (Call.done). */
  ended(): void {
    if (--this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  logBug(e: unknown, model: string): void {
    this.o.log.error({ err: e, model }, 'inference request failed inside the router');
  }

  /** Reads, classifies and routes one request. */
  private serve(call: Call, arrival: number): void {
    const { req, res, model } = call;
    if (!this.o.classes.hasModel(model)) {
      req.resume();
      sendError(res, 404, `unknown model "${model}"; models: ${this.o.classes.models().join(', ')}`);
      return call.done();
    }
    readBody(req, this.o.bodyLimit, (err, body) => {
      try {
        if (err !== null || body === undefined) {
          if (err instanceof BodyTooLarge) sendError(res, 413, `request body is over the ${this.o.bodyLimit}-byte limit (router.bodyLimit)`, { connection: 'close' });
          else res.destroy();
          return call.done();
        }
        let parsed: ParsedInfer;
        try {
          body = decodeBody(body, req.headers['content-encoding'], this.o.bodyLimit);
          parsed = parseInfer(model, body, req.headers, this.o.classes, arrival);
        } catch (e) {
          if (e instanceof BodyTooLarge) {
            sendError(res, 413, `request body is over the ${this.o.bodyLimit}-byte limit once decoded (router.bodyLimit)`);
            return call.done();
          }
          if (e instanceof MixscaleError && e.code === 'MIXSCALE_REQUEST_INVALID') {
            sendError(res, e.details['status'] === 415 ? 415 : 400, e.message);
            return call.done();
          }
          throw e;
        }
        if (this.closing) {
          const ci = parsed.req.classIndex;
          this.o.metrics.arrived(ci, parsed.req.size);
          this.reject(res, ci, 'shutting-down', 'router is shutting down', { connection: 'close' });
          return call.done();
        }
        this.attempt(call, parsed, body, undefined);
      } catch (e) {
        call.bug(e);
      }
    });
  }

  /** Shutting down: the answer about to be written closes its connection (the client must not send another on it). */
  private lastOnConnection(res: ServerResponse): void {
    if (this.closing) res.shouldKeepAlive = false;
  }

  private reject(res: ServerResponse, classIndex: number, reason: RouterRejectReason, message: string, extra: Record<string, string> = {}): void {
    this.o.metrics.rejected(classIndex, reason);
    this.lastOnConnection(res);
    if (reason === 'deadline') sendError(res, 504, message, { 'x-mixscale-reject': reason, ...extra });
    else sendError(res, 503, message, { 'retry-after': String(this.o.retryAfterSeconds), 'x-mixscale-reject': reason, ...extra });
  }

  /** Asks the policy for a backend, with `exclude` (a backend that just failed) hidden from it. */
  private pick(p: ParsedInfer, exclude: BackendState | undefined): BackendState | null {
    const { policy, tracker } = this.o;
    const view = tracker.viewFor(p.req.model);
    if (exclude === undefined || !exclude.accepting) return policy.pick(p.req, view);
    exclude.accepting = false;
    try {
      return policy.pick(p.req, view);
    } finally {
      exclude.accepting = true;
    }
  }

  /**
   * Picks a backend (waiting for a slot under late binding), forwards, accounts, and retries once
   * elsewhere when the failure was safe; calls `done` once the request is answered.
   */
  private attempt(call: Call, p: ParsedInfer, body: Buffer, failed: FirstFailure | undefined): void {
    const { res } = call;
    const ci = p.req.classIndex;
    const state = this.pick(p, failed?.backend.state);
    if (failed === undefined) {
      // Counted once picked, so a size no profile covers (400 below) stays out of the load.
      if (state === null && this.beyondProfiles(res, p)) return call.done();
      this.o.metrics.arrived(ci, p.req.size);
    }
    if (state !== null) return this.send(call, p, body, failed, state, false);
    const reason = this.o.policy.lastRejectReason ?? 'no-backend';
    if (reason === 'overloaded' && this.waiting !== undefined && this.o.lateBinding !== undefined) {
      const fastestMs = p.clientDeadline ? this.fastestServiceMs(p) : NaN;
      if (this.o.clock.now() + fastestMs > p.req.deadlineMs) {
        // No backend could finish it in time even with a slot free now: say so at once.
        this.reject(res, ci, 'deadline', `cannot finish within the ${Math.round(p.req.deadlineMs - p.req.arrivalMs)} ms deadline: expected ${Math.round(fastestMs)} ms on the fastest backend, before any wait`);
        return call.done();
      }
      // Late binding counts the dispatch when it binds the request to a slot (a retry, too,
      // waits for a busy backend).
      this.wait(p, res, this.waiting, this.o.lateBinding.maxWaitMs, failed?.backend.state).then(
        (bound) => {
          if (bound === null) return call.done();
          try {
            if (bound === PASS_ON) return this.passOn(call, p, failed!);
            this.send(call, p, body, failed, bound, true);
          } catch (e) {
            call.bug(e);
          }
        },
        (e: unknown) => call.bug(e),
      );
      return;
    }
    // A retry with no other backend to take it: the client gets the first backend's failure.
    if (failed !== undefined) return this.passOn(call, p, failed);
    const why =
      reason === 'deadline'
        ? `no backend can finish this request within its deadline (${Math.round(p.req.deadlineMs - p.req.arrivalMs)} ms)`
        : reason === 'overloaded'
          ? 'every backend is at its outstanding limit'
          : `no backend serving model "${p.req.model}" can take this request`;
    this.reject(res, ci, reason, why);
    call.done();
  }

  /** The request's shortest expected service time over the backends taking its model (NaN when none is known). */
  private fastestServiceMs(p: ParsedInfer): number {
    const { tracker } = this.o;
    let best = NaN;
    for (const b of tracker.viewFor(p.req.model).backends) {
      if (!b.accepting) continue;
      const ms = tracker.expectedServiceMs(b, p.req);
      if (ms >= 0 && !(ms >= best)) best = ms;
    }
    return best;
  }

  /** Answers as the first backend failed (its own 502/503 when it sent one), naming it. */
  private passOn(call: Call, p: ParsedInfer, f: FirstFailure): void {
    const { res } = call;
    const id = f.backend.state.id;
    this.o.metrics.completed(p.req.classIndex, f.backend.state, f.status, this.o.clock.now() - p.req.arrivalMs);
    this.lastOnConnection(res);
    if (f.body !== undefined && !res.headersSent) {
      const headers: Record<string, string> = { ...f.headers, 'content-length': String(f.body.length), 'x-mixscale-backend': id };
      res.writeHead(f.status, headers);
      res.end(f.body);
    } else sendError(res, f.status, f.message, { 'x-mixscale-backend': id });
    call.done();
  }

  /**
   * Error branch: when no backend type serving the model is profiled for a size this large, no
   * backend will ever take the request: answer 400 naming the size's field, not 503 + retry.
   */
  private beyondProfiles(res: ServerResponse, p: ParsedInfer): boolean {
    const { model, size } = p.req;
    const largest = this.o.largestProfiledSize?.(model);
    if (largest === undefined || !(size > largest)) return false;
    const field = p.sizeFromShape ? 'inputs[0].shape: the leading dimension (the batch)' : 'parameters.size:';
    sendError(res, 400, `${field} ${size} is above ${largest}, the largest size ${model} is profiled for`);
    return true;
  }

  /** Sends the request to `state` (already counted as dispatched when `counted`) and handles the outcome. */
  private send(call: Call, p: ParsedInfer, body: Buffer, failed: FirstFailure | undefined, state: BackendState, counted: boolean): void {
    const { req, res } = call;
    const { tracker, metrics, backends } = this.o;
    const ci = p.req.classIndex;
    const backend = backends.of(state);
    const expectedMs = tracker.expectedServiceMs(state, p.req);
    if (counted && backend === undefined) {
      // Removed between binding and now: give the slot back.
      tracker.finished(state, expectedMs);
      this.reject(res, ci, 'no-backend', 'the backend chosen for this request was removed');
      return call.done();
    }
    if (backend === undefined || (!counted && (!state.accepting || state.outstanding >= state.maxOutstanding))) {
      this.reject(res, ci, 'overloaded', 'no backend has room for this request');
      return call.done();
    }
    if (p.clientDeadline && Number.isFinite(expectedMs)) {
      const now = this.o.clock.now();
      const waitMs = counted ? 0 : queuedWaitMs(state);
      if (now + waitMs + expectedMs > p.req.deadlineMs) {
        if (counted) {
          tracker.finished(state, expectedMs);
          this.bindWaiting(state);
        }
        this.reject(res, ci, 'deadline', `cannot finish within the ${Math.round(p.req.deadlineMs - p.req.arrivalMs)} ms deadline: expected ${Math.round(waitMs + expectedMs)} ms on the best backend (${state.id})`);
        return call.done();
      }
    }

    if (!counted) {
      metrics.beforeLoadChange(state);
      tracker.dispatched(state, expectedMs);
    }
    forward(backend, req.url ?? '/', req.headers, body, res, failed === undefined, this.relay, (outcome) => {
      try {
        metrics.beforeLoadChange(state);
        tracker.finished(state, expectedMs);
        backends.afterFinish(backend);
        this.bindWaiting(state);
        this.outcome(call, p, body, failed, state, backend, outcome);
      } catch (e) {
        call.bug(e);
      }
    });
  }

  private outcome(call: Call, p: ParsedInfer, body: Buffer, failed: FirstFailure | undefined, state: BackendState, backend: Backend, outcome: ProxyOutcome): void {
    const { res } = call;
    const { metrics, backends } = this.o;
    const ci = p.req.classIndex;
    switch (outcome.kind) {
      case 'relayed':
        if (outcome.status >= 500) backends.markFailure(backend, `answered ${outcome.status}`);
        else backends.markSuccess(backend);
        metrics.completed(ci, state, outcome.status, this.o.clock.now() - p.req.arrivalMs);
        if (this.debug) this.o.log.debug({ backend: state.id, class: p.className, size: p.req.size, status: outcome.status, ms: this.o.clock.now() - p.req.arrivalMs }, 'request');
        return call.done();
      case 'refused':
        backends.markFailure(backend, `answered ${outcome.status}`);
        return this.attempt(call, p, body, { backend, status: outcome.status, message: `backend ${state.id} answered ${outcome.status}`, body: outcome.body, headers: outcome.headers });
      case 'aborted':
        metrics.ended(ci, state, 499);
        return call.done();
      case 'failed': {
        const kind = classifyError(outcome.error);
        backends.markFailure(backend, outcome.error.message);
        if (outcome.responded) {
          // The client has the status the backend began with and a cut body; /metrics says 502.
          metrics.ended(ci, state, 502);
          res.destroy();
          return call.done();
        }
        // Retried only when the backend cannot have taken the request: a connection failure
        // before any answer began.
        if (kind === 'safe' && !outcome.answered && failed === undefined) {
          this.o.log.debug({ backend: state.id, err: outcome.error.message }, 'retrying on another backend');
          return this.attempt(call, p, body, { backend, status: 502, message: `backend ${state.id} failed: ${outcome.error.message}` });
        }
        const status = kind === 'timeout' ? 504 : 502;
        metrics.completed(ci, state, status, this.o.clock.now() - p.req.arrivalMs);
        this.lastOnConnection(res);
        if (kind === 'timeout') sendError(res, 504, `backend ${state.id} did not answer in time`, { 'x-mixscale-backend': state.id });
        else sendError(res, 502, `backend ${state.id} failed: ${outcome.error.message}`, { 'x-mixscale-backend': state.id });
        return call.done();
      }
    }
  }
}
