import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { MAX_SLOTS } from '../config/fields.ts';
import type { Clock } from '../core/clock.ts';
import { MixscaleError } from '../core/errors.ts';
import { exactOrigin, poolProblem, type BackendSet } from './backends.ts';

/**
 * Compares a presented bearer token with the configured one in constant time: both are hashed
 * first, so neither the content nor the length of the secret leaks through timing.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The admin token: `configured` (router.adminToken), else env MIXSCALE_ADMIN_TOKEN. Unset or
 * blank means none (the admin API answers 401 to everyone); an env token shorter than 16
 * characters is refused, as a configured one is.
 */
export function adminToken(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (configured !== undefined) return configured;
  const t = env.MIXSCALE_ADMIN_TOKEN?.trim();
  if (t === undefined || t === '') return undefined;
  if (t.length < 16) throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `MIXSCALE_ADMIN_TOKEN: must be at least 16 characters, as router.adminToken (got ${t.length})`);
  return t;
}

function requireToken(token: string | undefined) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const auth = req.headers.authorization;
    const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null;
    const presented = m === null ? '' : m[1]!.trim();
    if (token === undefined || token === '' || presented === '' || !tokenMatches(presented, token)) {
      res
        .status(401)
        .set('www-authenticate', 'Bearer realm="mixscale-admin"')
        .json({ error: token === undefined ? 'admin API disabled: set router.adminToken or MIXSCALE_ADMIN_TOKEN' : 'missing or wrong bearer token' });
      return;
    }
    next();
  };
}

function badRequest(res: Response, message: string): void {
  res.status(400).json({ error: message });
}

const OPTIONAL_STRING = ['id', 'pool'] as const;
const OPTIONAL_INT = ['slots', 'maxOutstanding'] as const;
const KNOWN_FIELDS = new Set(['id', 'url', 'type', 'pool', 'slots', 'maxOutstanding']);


/** Longest a drain request may wait for in-flight work to finish (?wait=ms). */
const MAX_DRAIN_WAIT_MS = 600_000;

/**
 * The admin API: add, list, drain and remove backends. Every route needs the bearer token.
 * Draining answers at once with the in-flight count, or with `?wait=MS` holds the answer until
 * in-flight reaches 0 (or the wait ends): `drained: true` means safe to terminate.
 */
export function adminRoutes(opts: {
  backends: BackendSet;
  token: string | undefined;
  clock: Clock;
  isKnownType: (type: string) => boolean;
  /** The config's pools: a backend joins one of its type (undefined: any type, its own pool). */
  pools?: ReadonlyArray<{ readonly name: string; readonly type: string }>;
}): express.Router {
  const { backends, clock } = opts;
  const r = express.Router();
  r.use(requireToken(opts.token));
  // Any content-type (curl -d sends a form type) and any JSON value: the handler says what it
  // expects. Only the route that reads a body parses one (a drain ignores whatever is sent).
  const json = express.json({ limit: '64kb', type: () => true, strict: false });

  r.get('/backends', (_req, res) => {
    res.json({ backends: backends.list().map((b) => backends.info(b)) });
  });

  r.post('/backends', json, (req, res) => {
    const body: unknown = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return badRequest(res, 'body: expected a JSON object {url, type, id?, pool?, slots?, maxOutstanding?}');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (!KNOWN_FIELDS.has(k)) return badRequest(res, `${k}: unknown field; allowed: ${[...KNOWN_FIELDS].join(', ')}`);
    if (typeof b.url !== 'string' || b.url === '') return badRequest(res, 'url: expected a backend URL or host:port');
    if (typeof b.type !== 'string' || b.type === '') return badRequest(res, 'type: expected an instance type such as "g4dn.xlarge"');
    if (!opts.isKnownType(b.type)) return badRequest(res, `type: "${b.type}" is not in the instance catalog`);
    for (const k of OPTIONAL_STRING) if (b[k] !== undefined && (typeof b[k] !== 'string' || b[k] === '')) return badRequest(res, `${k}: expected a non-empty string`);
    for (const k of OPTIONAL_INT) {
      const v = b[k];
      if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= MAX_SLOTS)) return badRequest(res, `${k}: expected a positive integer up to ${MAX_SLOTS}, got ${JSON.stringify(v)}`);
    }
    if (opts.pools !== undefined) {
      const problem = poolProblem(opts.pools, b.type, b.pool as string | undefined);
      if (problem !== undefined) return badRequest(res, `${problem.field}: ${problem.message}`);
    }
    if (b.maxOutstanding !== undefined && backends.lateBinding) {
      return badRequest(res, 'maxOutstanding: does not apply with routing.lateBinding (a backend holds at most its slots in flight; the rest wait at the router); set slots instead');
    }
    try {
      const { backend, created } = backends.add({
        url: exactOrigin(b.url),
        type: b.type,
        id: b.id as string | undefined,
        pool: b.pool as string | undefined,
        slots: b.slots as number | undefined,
        maxOutstanding: b.maxOutstanding as number | undefined,
      });
      res.status(created ? 201 : 200).json({ backend: backends.info(backend) });
    } catch (e) {
      if (e instanceof MixscaleError && e.code === 'MIXSCALE_REQUEST_INVALID') {
        res.status(e.details.status === 409 ? 409 : 400).json({ error: e.message });
        return;
      }
      throw e;
    }
  });

  r.get('/backends/:id', (req, res) => {
    const b = backends.get(req.params.id);
    if (b === undefined) return void res.status(404).json({ error: `no backend "${req.params.id}"` });
    res.json({ backend: backends.info(b) });
  });

  r.post('/backends/:id/drain', async (req, res) => {
    const id = req.params.id;
    // The wait is checked first: a bad request changes nothing.
    const waitParam = req.query.wait;
    const waitMs = waitParam === undefined ? undefined : typeof waitParam === 'string' && /^\d+$/.test(waitParam) ? Number(waitParam) : NaN;
    if (waitMs !== undefined && !(waitMs >= 0 && waitMs <= MAX_DRAIN_WAIT_MS)) return badRequest(res, `wait: expected milliseconds between 0 and ${MAX_DRAIN_WAIT_MS}, got ${JSON.stringify(waitParam)}`);
    const b = backends.drain(id);
    if (b === undefined) return void res.status(404).json({ error: `no backend "${id}"` });
    if (waitMs !== undefined) await backends.whenDrained(id, clock, waitMs);
    res.json({ backend: backends.info(b) });
  });

  r.delete('/backends/:id', (req, res) => {
    const b = backends.get(req.params.id);
    if (b === undefined) return void res.status(404).json({ error: `no backend "${req.params.id}"` });
    const info = backends.info(b);
    backends.remove(req.params.id);
    res.json({ removed: info });
  });

  return r;
}
