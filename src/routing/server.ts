import { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import express from 'express';
import { createRoutingPolicy } from '../../policies/routing/index.ts';
import { classesFromConfig } from '../control/candidates.ts';
import { declaredModels, type LoadedConfig } from '../config/load.ts';
import { routerSection, type RouterSettings } from '../config/sections/router.ts';
import { type Clock, RealClock, timerMs } from '../core/clock.ts';
import { badPathEncoding } from '../core/http-path.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { Rng } from '../core/rng.ts';
import { adminRoutes, adminToken } from './admin.ts';
import { BackendSet } from './backends.ts';
import { CloudWatchPublisher } from './cloudwatch.ts';
import { HealthChecker } from './health.ts';
import { RouterMetrics } from './metrics.ts';
import { PoolTracker } from './pool.ts';
import { ClassTable } from './request.ts';
import { InferRouter, sendError } from './router.ts';
import { serves, type RoutingPolicy } from './types.ts';
import { answerClientError, hostCheckedServer } from '../core/client-error.ts';

/**
 * How inference requests reach the hot path: `lean` checks the URL in the node listener and
 * calls the handler directly, everything else goes through express; `express` routes every
 * request through express. Chosen by benchmark (bench/README.md): lean is the default.
 */
export type HotPath = 'lean' | 'express';

export interface RouterServerOptions {
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly log?: Logger;
  /** The routing policy object (default: config.routing.policy from the registry). */
  readonly policy?: RoutingPolicy;
  /** Admin token (default: router.adminToken, else env MIXSCALE_ADMIN_TOKEN). */
  readonly adminToken?: string;
  readonly hotPath?: HotPath;
  /** Start active health checks (default true). */
  readonly healthChecks?: boolean;
  /** CloudWatch client for router.cloudwatch (default: one for its region). */
  readonly cloudwatchClient?: CloudWatchClient;
}

const INFER_PATH = /^\/v2\/models\/([^/?]+)(?:\/versions\/[^/?]+)?\/infer(?:\?|$)/;

/** The running router: one HTTP server with the OIP endpoints, admin API, /metrics and /v1/snapshot. */
export class RouterServer {
  readonly app: express.Express;
  readonly server: Server;
  readonly tracker: PoolTracker;
  readonly backends: BackendSet;
  readonly metrics: RouterMetrics;
  readonly infer: InferRouter;
  readonly policy: RoutingPolicy;
  readonly settings: RouterSettings;
  private readonly health: HealthChecker;
  private readonly cloudwatch: CloudWatchPublisher | undefined;
  private readonly healthChecks: boolean;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(loaded: LoadedConfig, opts: RouterServerOptions = {}) {
    const { config, catalog, profiles } = loaded;
    const settings = config.router ?? routerSection.parse({});
    this.settings = settings;
    const clock = opts.clock ?? new RealClock();
    const log = opts.log ?? silentLogger;
    this.log = log;
    this.healthChecks = opts.healthChecks ?? true;
    this.policy = opts.policy ?? createRoutingPolicy(config.routing.policy, config.routing.options);
    const classes = new ClassTable(classesFromConfig(loaded));

    this.tracker = new PoolTracker({
      rng: opts.rng ?? new Rng(1),
      now: () => clock.now(),
      profileOf: (type, model) => (profiles.has(type, model) ? profiles.table(type, model) : undefined),
    });
    const lateBinding = config.routing.lateBinding;
    this.tracker.lateBinding = lateBinding;
    const poolByType = new Map(config.pools.map((p) => [p.type, p]));
    const poolByName = new Map(config.pools.map((p) => [p.name, p]));
    this.backends = new BackendSet(
      this.tracker,
      {
        poolOf: (type, pool) => {
          // A named pool first: several pools may share a type with different slots.
          const p = (pool !== undefined ? poolByName.get(pool) : undefined) ?? poolByType.get(type);
          return { pool: p?.name ?? type, slots: p?.slots ?? 1 };
        },
        modelsOf: declaredModels(config),
        isFast: (type) => catalog.has(type) && catalog.isAccelerated(type),
        maxOutstanding: settings.maxOutstanding,
        connections: settings.connectionsPerBackend,
        requestTimeoutMs: settings.requestTimeout,
        failuresToEject: settings.health.failures,
        lateBinding,
      },
      log,
      (state) => this.metrics.retire(state),
      (state) => this.infer?.bindWaiting(state),
      () => this.infer?.rebindWaiting(),
    );
    this.metrics = new RouterMetrics(
      classes.classes,
      settings.snapshotWindow,
      () => clock.now(),
      () => this.tracker.backends,
      (s) => this.backends.of(s)?.healthy ?? false,
      () => this.infer.requestsWaiting,
    );
    this.health = new HealthChecker(this.backends, clock, settings.health.interval, settings.health.timeout);
    this.infer = new InferRouter({
      clock,
      log,
      backends: this.backends,
      tracker: this.tracker,
      policy: this.policy,
      classes,
      metrics: this.metrics,
      bodyLimit: settings.bodyLimit,
      retryAfterSeconds: settings.retryAfterSeconds,
      sendTimeoutMs: settings.requestTimeout,
      largestProfiledSize: (model) => {
        // Error branch only: the types of the pools serving the model and of the backends present.
        let largest = 0;
        const types = new Set(config.pools.filter((p) => serves(p, model)).map((p) => p.type));
        for (const b of this.tracker.viewFor(model).backends) types.add(b.type);
        for (const type of types) {
          if (!profiles.has(type, model)) return undefined;
          largest = Math.max(largest, profiles.table(type, model).maxSize);
        }
        return types.size === 0 ? undefined : largest;
      },
      ...(lateBinding ? { lateBinding: { maxWaiting: config.routing.maxWaiting, maxWaitMs: settings.requestTimeout } } : {}),
    });
    for (const b of settings.backends) this.backends.add(b);
    const cw = settings.cloudwatch;
    this.cloudwatch =
      cw === undefined
        ? undefined
        : new CloudWatchPublisher({
            client: opts.cloudwatchClient ?? new CloudWatchClient(cw.region !== undefined ? { region: cw.region } : {}),
            namespace: cw.namespace,
            intervalMs: cw.interval,
            metrics: this.metrics,
            clock,
            log,
          });

    const token = opts.adminToken ?? adminToken(settings.adminToken);
    if (token === undefined) log.warn('no admin token (router.adminToken or MIXSCALE_ADMIN_TOKEN): the admin API answers 401 to everyone');
    const app = express();
    app.disable('x-powered-by');
    app.disable('etag');
    this.app = app;

    const anyAccepting = (model?: string): boolean =>
      this.infer.accepting && (model === undefined ? this.tracker : this.tracker.viewFor(model)).backends.some((b) => b.accepting);
    app.post(['/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer'], (req, res) => {
      this.infer.handle(req, res, String(req.params.name));
    });
    app.get('/v2/health/live', (_req, res) => {
      res.json({ live: true });
    });
    app.get('/v2/health/ready', (_req, res) => {
      const ready = anyAccepting();
      res.status(ready ? 200 : 503).json({ ready });
    });
    app.get('/v2', (_req, res) => {
      res.json({ name: 'mixscale-router', version: '2', extensions: [] });
    });
    app.get(['/v2/models/:name', '/v2/models/:name/versions/:version'], (req, res) => {
      const name = String(req.params.name);
      if (!classes.hasModel(name)) return void sendError(res, 404, `unknown model "${name}"; models: ${classes.models().join(', ')}`);
      res.json({ name, versions: [], platform: 'mixscale-router', classes: classes.classes.filter((c) => c.model === name).map((c) => c.name) });
    });
    app.get(['/v2/models/:name/ready', '/v2/models/:name/versions/:version/ready'], (req, res) => {
      const name = String(req.params.name);
      if (!classes.hasModel(name)) return void sendError(res, 404, `unknown model "${name}"; models: ${classes.models().join(', ')}`);
      const ready = anyAccepting(name);
      res.status(ready ? 200 : 503).json({ name, ready });
    });
    app.get('/metrics', async (_req, res) => {
      res.set('content-type', this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
    });
    app.get('/v1/snapshot', (_req, res) => {
      res.json(this.metrics.snapshot());
    });
    app.use('/v1', adminRoutes({ backends: this.backends, token, clock, isKnownType: (t) => catalog.has(t), pools: config.pools }));
    app.use((_req, res) => sendError(res, 404, 'no such endpoint; see docs/router.md'));
    app.use((err: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const status = (err as { status?: unknown }).status;
      if (status === 413) return void sendError(res, 413, 'request body too large');
      // express decodes the path's parameters: a bad %-escape is the parameter's fault, not the body's.
      if (err instanceof URIError) return void sendError(res, 400, badPathEncoding(req.path));
      if (status === 400 && (err as { type?: unknown }).type === 'entity.parse.failed') return void sendError(res, 400, `body: malformed JSON (${(err as Error).message})`);
      if (typeof status === 'number' && status >= 400 && status < 500) return void sendError(res, status, `body: ${(err as Error).message}`);
      log.error({ err }, 'router request failed');
      sendError(res, 500, 'internal router error');
    });

    const hotPath = opts.hotPath ?? 'lean';
    // Inference URLs repeat (a few models): remember which model each names, up to a bound.
    const modelOfUrl = new Map<string, string>();
    const listener =
      hotPath === 'lean'
        ? (req: IncomingMessage, res: ServerResponse): void => {
            const url = req.url;
            if (req.method !== 'POST' || url === undefined) return void app(req, res);
            let model = modelOfUrl.get(url);
            if (model === undefined) {
              const m = INFER_PATH.exec(url);
              if (m === null) return void app(req, res);
              try {
                model = decodeURIComponent(m[1]!);
              } catch {
                return void sendError(res, 400, 'model: the name in the path is not valid percent-encoding');
              }
              if (modelOfUrl.size < 256) modelOfUrl.set(url, model);
            }
            this.infer.handle(req, res, model);
          }
        : app;
    this.server = hostCheckedServer({ keepAliveTimeout: 65_000 }, listener);
    this.server.on('clientError', answerClientError);
  }

  /** Listens (port 0 picks a free one) and starts health checks; resolves to the base URL. */
  async listen(port = this.settings.listen.port, host = this.settings.listen.host): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    if (this.healthChecks) this.health.start();
    this.cloudwatch?.start();
    const a = this.server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${h}:${a.port}`;
  }

  /**
   * Graceful stop: refuse new connections and requests, let in-flight requests finish (for at
   * most router.shutdownTimeout; then those still waiting for a slot are answered 503
   * shutting-down and those at a backend are cut), then close every connection and backend pool.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.infer.stopAccepting();
      this.health.stop();
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      let deadline: NodeJS.Timeout | undefined;
      const idle = await Promise.race([
        this.infer.whenIdle().then(() => true),
        new Promise<boolean>((resolve) => (deadline = setTimeout(() => resolve(false), timerMs(this.settings.shutdownTimeout)))),
      ]);
      clearTimeout(deadline);
      if (!idle) {
        const inFlight = this.infer.requestsInFlight;
        const refused = this.infer.refuseWaiting();
        this.log.warn({ inFlight, refusedWaiting: refused.count, shutdownTimeout: this.settings.shutdownTimeout }, 'requests still in flight at router.shutdownTimeout; answering those still waiting for a slot 503 and cutting the rest');
        // Let the 503s leave before their connections close (a client that reads nothing gets 1 s).
        let cap: NodeJS.Timeout | undefined;
        await Promise.race([refused.sent, new Promise<void>((resolve) => (cap = setTimeout(resolve, 1_000)))]);
        clearTimeout(cap);
      }
      this.server.closeAllConnections();
      await closed;
      await this.backends.closeAll();
      await this.cloudwatch?.stop();
    })();
    return this.closing;
  }
}
