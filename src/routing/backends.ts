import { Client, Pool } from 'undici';
import { type Clock, timerMs } from '../core/clock.ts';
import { MixscaleError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { PoolTracker } from './pool.ts';
import type { BackendState } from './types.ts';

/** How a backend is described to the router (admin API, config, controller). */
export interface BackendInput {
  readonly id?: string | undefined;
  readonly url: string;
  readonly type: string;
  readonly pool?: string | undefined;
  readonly slots?: number | undefined;
  readonly maxOutstanding?: number | undefined;
}

export interface BackendDefaults {
  /** Pool name and slots for a type, from the config's pools (the type itself when no pool matches). */
  /** The pool a backend of `type` joins (the named one when given) and its slots per backend. */
  poolOf(type: string, pool?: string): { pool: string; slots: number };
  /** Models a pool's backends serve (the config's `pools[].models`); undefined: every model. */
  modelsOf?(pool: string): readonly string[] | undefined;
  isFast(type: string): boolean;
  readonly maxOutstanding: number;
  readonly connections: number;
  readonly requestTimeoutMs: number;
  /** Consecutive failures that mark a backend unhealthy. */
  readonly failuresToEject: number;
  /** Late binding: a backend holds at most its slots; the rest wait at the router. */
  readonly lateBinding?: boolean;
}

/** A backend as the router runs it: the shared routing state plus its connections and health. */
export interface Backend {
  readonly state: BackendState;
  readonly origin: string;
  readonly dispatcher: Pool;
  /** A connection of its own for health checks, so a probe never queues behind slow requests. */
  readonly probe: Client;
  draining: boolean;
  healthy: boolean;
  consecutiveFailures: number;
  /** Called once when a draining backend reaches zero in-flight requests. */
  drainWaiters: Array<() => void>;
}

/** The public description of a backend (admin API, logs). */
export interface BackendInfo {
  readonly id: string;
  readonly url: string;
  readonly type: string;
  readonly pool: string;
  /** Models it serves (its pool's `models`); absent: every model. */
  readonly models?: readonly string[];
  readonly fast: boolean;
  readonly slots: number;
  readonly maxOutstanding: number;
  readonly inFlight: number;
  readonly healthy: boolean;
  readonly draining: boolean;
  /** Draining and idle: safe to terminate. */
  readonly drained: boolean;
}

/**
 * Why a backend id cannot be used, or undefined when it can: blank. The config loader
 * (router.backends) and the admin API ask the same question.
 */
export function backendIdProblem(id: string): string | undefined {
  if (id.trim() === '') return 'expected a non-empty string';
  return undefined;
}

function parseBackendUrl(url: string): URL {
  const withScheme = /^[a-z]+:\/\//i.test(url) ? url : `http://${url}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `url: ${JSON.stringify(url)} is not a URL or host:port`, { field: 'url' });
  }
  if (u.protocol !== 'http:') throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `url: only http:// backends are supported, got ${u.protocol}`, { field: 'url' });
  if (u.port === '0') throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `url: port 0 is not a port a backend listens on (${JSON.stringify(url)})`, { field: 'url' });
  return u;
}

/** The origin (http://host:port) of a backend URL or host:port; anything after it is dropped. */
export function normalizeOrigin(url: string): string {
  return parseBackendUrl(url).origin;
}

/**
 * Why a backend of `type` (in `pool`, when named) cannot join the config's pools, or undefined
 * when it can: a backend belongs to a pool of its type, which says which models it serves. The
 * config loader (router.backends) and the admin API ask the same question.
 */
export function poolProblem(pools: ReadonlyArray<{ readonly name: string; readonly type: string }>, type: string, pool: string | undefined): { field: 'pool' | 'type'; message: string } | undefined {
  if (pool !== undefined) {
    const p = pools.find((x) => x.name === pool);
    if (p === undefined) return { field: 'pool', message: `no pool named "${pool}"; pools: ${pools.map((x) => x.name).join(', ')}` };
    if (p.type !== type) return { field: 'type', message: `${type} is not the type of pool "${p.name}" (${p.type})` };
    return undefined;
  }
  const ofType = pools.filter((x) => x.type === type);
  if (ofType.length === 0) return { field: 'type', message: `no pool has type ${type} (pools: ${pools.map((x) => `${x.name} ${x.type}`).join(', ')}); a backend belongs to a pool of its type: add one to pools` };
  if (ofType.length > 1) return { field: 'type', message: `pools ${ofType.map((x) => `"${x.name}"`).join(', ')} all have type ${type}; name one as the backend's pool` };
  return undefined;
}

/** A backend's id when none is given: its host:port. */
export function defaultBackendId(origin: string): string {
  return origin.replace(/^http:\/\//, '');
}

/**
 * The origin of a backend URL that is nothing more (the admin API): requests go to the origin
 * with the client's own path, so a path, query, user or fragment would be silently lost.
 */
export function exactOrigin(url: string): string {
  const u = parseBackendUrl(url);
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `url: a backend is an origin (http://host:port); ${JSON.stringify(url)} has a path or query (or user, fragment), which the router would drop`, { field: 'url' });
  }
  return u.origin;
}

/**
 * The router's backends: membership (add, drain, remove), one bounded keep-alive undici pool
 * per backend, and health. Routing state lives in the shared PoolTracker; `accepting` there is
 * kept equal to "not draining and healthy" so every policy skips both the same way.
 */
export class BackendSet {
  private readonly byId = new Map<string, Backend>();
  private readonly byState = new Map<BackendState, Backend>();

  constructor(
    readonly tracker: PoolTracker,
    private readonly defaults: BackendDefaults,
    private readonly log: Logger,
    private readonly onRemove?: (state: BackendState) => void,
    /** A backend started taking requests (added, healthy again): late binding gives it waiting work. */
    private readonly onAvailable?: (state: BackendState) => void,
    /** A backend stopped taking requests (draining, unhealthy, removed): requests waiting for it must look elsewhere. */
    private readonly onUnavailable?: (state: BackendState) => void,
  ) {}

  list(): Backend[] {
    return [...this.byId.values()];
  }

  get(id: string): Backend | undefined {
    return this.byId.get(id);
  }

  of(state: BackendState): Backend | undefined {
    return this.byState.get(state);
  }

  /** Late binding: a backend holds its slots in flight, so maxOutstanding does not apply. */
  get lateBinding(): boolean {
    return this.defaults.lateBinding === true;
  }

  /**
   * Adds a backend. Adding an id that exists, at the same url and with the same type, pool,
   * slots and maxOutstanding (as resolved), is a no-op (idempotent); with anything different, or
   * a url another id has, it is refused (409) saying what differs.
   */
  add(input: BackendInput): { backend: Backend; created: boolean } {
    const origin = normalizeOrigin(input.url);
    const idProblem = input.id !== undefined ? backendIdProblem(input.id) : undefined;
    if (idProblem !== undefined) throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `id: ${idProblem}`, { field: 'id' });
    const id = input.id ?? defaultBackendId(origin);
    const { pool: typePool, slots: poolSlots } = this.defaults.poolOf(input.type, input.pool);
    const pool = input.pool ?? typePool;
    const slots = input.slots ?? poolSlots;
    const maxOutstanding = this.defaults.lateBinding === true ? slots : (input.maxOutstanding ?? this.defaults.maxOutstanding);
    const existing = this.byId.get(id);
    if (existing !== undefined) {
      if (existing.origin !== origin) {
        throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `id: backend "${id}" already exists at ${existing.origin}; remove it first`, { field: 'id', status: 409 });
      }
      const s = existing.state;
      const differs: string[] = [];
      // A value the request left out resolves to a default: say so, rather than that it was asked.
      const asked = (given: unknown, value: unknown) => `(${given !== undefined ? 'asked' : 'default'}: ${value})`;
      if (s.type !== input.type) differs.push(`type "${s.type}" (asked: "${input.type}")`);
      if (s.pool !== pool) differs.push(`pool "${s.pool}" ${asked(input.pool, `"${pool}"`)}`);
      if (s.slots !== slots) differs.push(`slots ${s.slots} ${asked(input.slots, slots)}`);
      // With late binding maxOutstanding is the slots, named above: nothing of its own to name.
      if (s.maxOutstanding !== maxOutstanding && this.defaults.lateBinding !== true) differs.push(`maxOutstanding ${s.maxOutstanding} ${asked(input.maxOutstanding, maxOutstanding)}`);
      if (differs.length > 0) {
        throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `id: backend "${id}" already exists with ${differs.join(', ')}; remove it first to change it`, { field: 'id', status: 409 });
      }
      return { backend: existing, created: false };
    }
    for (const other of this.byId.values()) {
      if (other.origin === origin) {
        throw new MixscaleError('MIXSCALE_REQUEST_INVALID', `url: ${origin} is already backend "${other.state.id}"; one node is registered once`, { field: 'url', status: 409 });
      }
    }
    const state = this.tracker.add({
      id,
      type: input.type,
      pool,
      models: this.defaults.modelsOf?.(pool),
      fast: this.defaults.isFast(input.type),
      slots,
      maxOutstanding,
    });
    const dispatcher = new Pool(origin, {
      connections: this.defaults.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: timerMs(this.defaults.requestTimeoutMs),
      bodyTimeout: timerMs(this.defaults.requestTimeoutMs),
    });
    const probe = new Client(origin, { pipelining: 1, keepAliveTimeout: 30_000 });
    const backend: Backend = { state, origin, dispatcher, probe, draining: false, healthy: true, consecutiveFailures: 0, drainWaiters: [] };
    this.byId.set(id, backend);
    this.byState.set(state, backend);
    this.log.info({ backend: id, url: origin, type: state.type, pool: state.pool }, 'backend added');
    this.onAvailable?.(state);
    return { backend, created: true };
  }

  /** Stops new requests to a backend; resolves the returned promise when its in-flight count is 0. */
  drain(id: string): Backend | undefined {
    const b = this.byId.get(id);
    if (b === undefined) return undefined;
    if (!b.draining) {
      b.draining = true;
      this.refresh(b);
      this.log.info({ backend: id, inFlight: b.state.outstanding }, 'backend draining');
      this.maybeDrained(b);
    }
    return b;
  }

  /**
   * Resolves once the backend is draining and idle (or gone), or after `waitMs` on `clock`,
   * whichever comes first; a wait that times out leaves nothing behind.
   */
  whenDrained(id: string, clock: Clock, waitMs: number): Promise<void> {
    const b = this.byId.get(id);
    if (b === undefined || (b.draining && b.state.outstanding === 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clock.clearTimeout(timer);
        const i = b.drainWaiters.indexOf(done);
        if (i >= 0) b.drainWaiters.splice(i, 1);
        resolve();
      };
      const timer = clock.setTimeout(done, waitMs);
      b.drainWaiters.push(done);
    });
  }

  /** Forgets a backend. In-flight requests on it still finish; its connections close after them. */
  remove(id: string): boolean {
    const b = this.byId.get(id);
    if (b === undefined) return false;
    this.byId.delete(id);
    this.byState.delete(b.state);
    this.tracker.remove(id);
    b.state.accepting = false;
    for (const w of b.drainWaiters.splice(0)) w();
    this.onRemove?.(b.state);
    // Even one that had stopped accepting: its model may now have no backend at all.
    this.onUnavailable?.(b.state);
    this.log.info({ backend: id, inFlight: b.state.outstanding }, 'backend removed');
    // close() waits for requests already sent; the caller need not.
    void b.dispatcher.close().catch(() => undefined);
    void b.probe.destroy().catch(() => undefined);
    return true;
  }

  /** A request to `b` ended; a draining backend that is now idle is reported drained. */
  afterFinish(b: Backend): void {
    if (b.draining) this.maybeDrained(b);
  }

  /** A request or probe to `b` succeeded. */
  markSuccess(b: Backend): void {
    b.consecutiveFailures = 0;
    if (!b.healthy) {
      b.healthy = true;
      this.refresh(b);
      this.log.info({ backend: b.state.id }, 'backend healthy again');
    }
  }

  /** A request or probe to `b` failed (connection error, timeout, 5xx). */
  markFailure(b: Backend, why: string): void {
    b.consecutiveFailures++;
    if (b.healthy && b.consecutiveFailures >= this.defaults.failuresToEject) {
      b.healthy = false;
      this.refresh(b);
      this.log.warn({ backend: b.state.id, why, failures: b.consecutiveFailures }, 'backend unhealthy: no new requests until a health check passes');
    }
  }

  info(b: Backend): BackendInfo {
    const s = b.state;
    return {
      id: s.id,
      url: b.origin,
      type: s.type,
      pool: s.pool,
      ...(s.models !== undefined ? { models: s.models } : {}),
      fast: s.fast,
      slots: s.slots,
      maxOutstanding: s.maxOutstanding,
      inFlight: s.outstanding,
      healthy: b.healthy,
      draining: b.draining,
      drained: b.draining && s.outstanding === 0,
    };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.list().flatMap((b) => [b.dispatcher.close().catch(() => undefined), b.probe.destroy().catch(() => undefined)]));
  }

  private refresh(b: Backend): void {
    // A removed backend stays out of rotation: a request or probe that was in flight on it
    // when it was removed may still report success (or failure) here.
    if (this.byState.get(b.state) !== b) return;
    const was = b.state.accepting;
    b.state.accepting = !b.draining && b.healthy;
    if (!was && b.state.accepting) this.onAvailable?.(b.state);
    else if (was && !b.state.accepting) this.onUnavailable?.(b.state);
  }

  private maybeDrained(b: Backend): void {
    if (b.state.outstanding !== 0) return;
    if (b.drainWaiters.length > 0 || b.draining) this.log.info({ backend: b.state.id }, 'backend drained: no requests in flight');
    for (const w of b.drainWaiters.splice(0)) w();
  }
}
