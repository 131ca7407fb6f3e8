import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { timerMs, type Clock } from '../core/clock.ts';
import { isMixscaleError } from '../core/errors.ts';
import { badPathEncoding } from '../core/http-path.ts';
import type { Logger } from '../core/log.ts';
import type { Ms } from '../core/types.ts';
import { answerClientError, hostCheckedServer } from '../core/client-error.ts';
import { checkRequestedOutputs, parseInferRequest, selectOutputs, type OipInferRequest, type OipInferResponse } from './oip.ts';

/** What a serving node plugs into the shared OIP v2 HTTP front. */
export interface InferenceNode {
  readonly modelName: string;
  /** False for nodes that take a bare size (`parameters.size`) without input tensors. */
  readonly requireInputs: boolean;
  /** `signal` aborts when the client goes away before the answer: a node may stop working on it. */
  infer(req: OipInferRequest, arrivalMs: Ms, signal?: AbortSignal): Promise<OipInferResponse>;
  /**
   * Model metadata for `GET /v2/models/{name}`. Its `outputs` (`[{name, datatype, shape}]`) are
   * the names a request's `outputs` may ask for: the front checks them and keeps only those asked.
   */
  metadata(): Record<string, unknown>;
}

const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
/** The OIP v2 routes a node serves; OIP's versioned routes serve the same model (a node serves one version). */
const ROUTES: { readonly [k in 'live' | 'ready' | 'server']: string } & { readonly [k in 'modelReady' | 'metadata' | 'infer']: string[] } = {
  live: '/v2/health/live',
  ready: '/v2/health/ready',
  server: '/v2',
  modelReady: ['/v2/models/:name/ready', '/v2/models/:name/versions/:version/ready'],
  metadata: ['/v2/models/:name', '/v2/models/:name/versions/:version'],
  infer: ['/v2/models/:name/infer', '/v2/models/:name/versions/:version/infer'],
};
/** OIP's binary tensor extension: a JSON header of this many bytes, then raw tensor data. */
const BINARY_HEADER = 'inference-header-content-length';

export interface NodeHttpOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Largest request body in bytes (node.bodyLimit; default 4 MiB): a larger one gets 413. */
  readonly bodyLimit?: number;
}

/**
 * The OIP v2 routes every node serves: health, readiness, metadata and infer. Request
 * mistakes get 400 `{error}` naming the field; an unknown model 404.
 */
/** Per connection, the requests on it still unanswered (aborted together when the client goes). */
const unanswered = new WeakMap<Socket, Set<AbortController>>();

/** Aborts `c` when `socket` ends or closes first; returns the function that stops watching. */
function watchHangUp(socket: Socket, c: AbortController): () => void {
  let set = unanswered.get(socket);
  if (set === undefined) {
    const mine = new Set<AbortController>();
    const hangUp = (): void => {
      for (const x of mine) x.abort();
      mine.clear();
    };
    socket.once('end', hangUp);
    socket.once('close', hangUp);
    unanswered.set(socket, mine);
    set = mine;
  }
  set.add(c);
  const held = set;
  return () => void held.delete(c);
}

export function createNodeApp(node: InferenceNode, opts: NodeHttpOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const arrival = (_req: Request, res: Response, next: NextFunction): void => {
    res.locals.arrivalMs = opts.clock.now();
    next();
  };
  app.get(ROUTES.live, (_req, res) => void res.json({ live: true }));
  app.get(ROUTES.ready, (_req, res) => void res.json({ ready: true }));
  app.get(ROUTES.server, (_req, res) => void res.json({ name: 'mixscale-node', version: '2', extensions: [] }));
  const known = (req: Request, res: Response): boolean => {
    if (req.params.name === node.modelName) return true;
    res.status(404).json({ error: `model "${String(req.params.name)}" is not served here (this node serves "${node.modelName}")` });
    return false;
  };
  app.get(ROUTES.modelReady, (req, res) => {
    if (known(req, res)) res.json({ name: node.modelName, ready: true });
  });
  app.get(ROUTES.metadata, (req, res) => {
    if (known(req, res)) res.json({ name: node.modelName, platform: 'mixscale', ...node.metadata() });
  });
  // A node's outputs do not change: read from its metadata once, at the first request naming some.
  let names: string[] | undefined;
  // The body is JSON whatever its content-type says (curl -d sends form-urlencoded, fetch text/plain),
  // as Triton reads it, except for OIP's binary tensor extension, which these nodes do not speak.
  // Not strict: any JSON value parses, so `null` or `123` is told it is not an object rather than not JSON.
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const json = express.json({ limit: bodyLimit, strict: false, type: (req) => req.headers[BINARY_HEADER] === undefined });
  // A plain body whose declared length is over the limit is refused at once, as the router
  // refuses it: body-parser reads the whole body before it says so (a client that sends less
  // than it declared held the request until the 5-minute request timeout). A compressed body's
  // limit applies once decoded, so body-parser checks that one as it reads.
  const declaredTooLarge = (req: Request, res: Response, next: NextFunction): void => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity' && Number(req.headers['content-length']) > bodyLimit) {
      res.set('connection', 'close').status(413).json({ error: clientError({ type: 'entity.too.large' }, req.path, bodyLimit) });
      return;
    }
    next();
  };
  app.post(ROUTES.infer, arrival, declaredTooLarge, json, async (req, res) => {
    if (!known(req, res)) return;
    if (req.headers[BINARY_HEADER] !== undefined) {
      res.status(400).json({ error: `${BINARY_HEADER}: OIP's binary tensor extension is not supported by this node; send the tensors as JSON` });
      return;
    }
    // The client hung up (e.g. curl -m) when its connection ends or closes before the answer is
    // written: one watch per connection covers every request pipelined on it (a response
    // queued behind another has no socket of its own, so its 'close' would never come).
    const gone = new AbortController();
    const unwatch = watchHangUp(req.socket, gone);
    res.once('close', () => {
      unwatch();
      if (!res.writableFinished) gone.abort();
    });
    try {
      const parsed = parseInferRequest(req.body, node.requireInputs);
      if (parsed.outputs !== undefined) checkRequestedOutputs(parsed, node.modelName, (names ??= outputNames(node)));
      const answer = await node.infer(parsed, res.locals.arrivalMs as Ms, gone.signal);
      if (!gone.signal.aborted) res.json(selectOutputs(answer, parsed));
    } catch (e) {
      if (gone.signal.aborted) {
        opts.logger.debug({ url: req.originalUrl }, 'client went away before the answer');
        return;
      }
      if (isMixscaleError(e) && e.code === 'MIXSCALE_REQUEST_INVALID') {
        res.status(400).json({ error: e.message });
        return;
      }
      opts.logger.error({ err: e }, 'inference failed');
      res.status(500).json({ error: `inference failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  });
  // A known route asked with another method: 405 with the methods it takes (OPTIONS: 204 with them).
  const methodsOf: Array<[string[], string]> = [
    [[ROUTES.live, ROUTES.ready, ROUTES.server, ...ROUTES.modelReady, ...ROUTES.metadata], 'GET, HEAD, OPTIONS'],
    [ROUTES.infer, 'POST, OPTIONS'],
  ];
  for (const [paths, methods] of methodsOf) {
    app.all(paths, (req, res) => {
      res.set('allow', methods);
      if (req.method === 'OPTIONS') return void res.status(204).end();
      res.status(405).json({ error: `method ${req.method} is not allowed on ${req.path} (it takes ${methods.replace(', OPTIONS', '')})` });
    });
  }
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; message?: string; charset?: string; encoding?: string };
    const status = e.status ?? 500;
    if (status >= 400 && status < 500) {
      // A client mistake: answered, and logged without a stack (it is not the node's fault).
      opts.logger.debug({ method: req.method, url: req.originalUrl, status, type: e.type }, 'bad request');
      if (e.type === 'request.aborted') return; // the client is gone: nobody to answer
      return void res.status(status).json({ error: clientError(e, req.path, opts.bodyLimit ?? DEFAULT_BODY_LIMIT) });
    }
    opts.logger.error({ err }, 'request failed');
    res.status(status).json({ error: e.message ?? 'internal error' });
  });
  app.use((_req, res) => void res.status(404).json({ error: 'not found (OIP v2 routes are under /v2)' }));
  return app;
}

/** The output names a node declares in its metadata (`outputs: [{name, ...}]`); none when it declares none. */
function outputNames(node: InferenceNode): string[] {
  const outputs = node.metadata().outputs;
  if (!Array.isArray(outputs)) return [];
  return outputs.flatMap((o: unknown) => (o !== null && typeof o === 'object' && typeof (o as { name?: unknown }).name === 'string' ? [(o as { name: string }).name] : []));
}

/** The message for a client mistake express or body-parser caught, naming what is at fault. */
function clientError(e: { type?: string; message?: string; charset?: string; encoding?: string }, path: string, bodyLimit: number): string {
  // A path segment express could not decode (e.g. %ZZ), named as the router names it.
  if (e instanceof URIError) return badPathEncoding(path);
  switch (e.type) {
    case 'entity.parse.failed':
      return `body: not valid JSON (${e.message ?? ''})`;
    case 'entity.too.large':
      return `body: larger than the ${bodyLimit}-byte limit (node.bodyLimit)`;
    case 'charset.unsupported':
      return `content-type: charset "${e.charset ?? '?'}" is not supported (send utf-8)`;
    case 'encoding.unsupported':
      return `content-encoding: "${e.encoding ?? '?'}" is not supported`;
  }
  // A body whose content-encoding does not match its bytes (zlib's message).
  if (e.type === undefined || e.type === 'stream.encoding.set') return `body: ${e.message ?? 'bad request'}`;
  return e.message ?? 'bad request';
}

export interface RunningServer {
  /** `http://host:port`, with the port the OS chose when asked for 0. */
  readonly url: string;
  readonly server: Server;
  /**
   * Stops accepting, lets in-flight requests finish, then resolves. After `deadlineMs` (if
   * given) the connections still open are closed (a client stalled mid-request would hold
   * the node up for Node's 5-minute request timeout); resolves with whether all finished.
   */
  close(deadlineMs?: number): Promise<boolean>;
}

export function listen(app: express.Express, host: string, port: number): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const server = hostCheckedServer({}, app).listen(port, host);
    server.on('clientError', answerClientError);
    server.once('error', reject);
    server.once('listening', () => {
      const addr = server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      let closing: Promise<boolean> | undefined;
      resolve({
        url: `http://${shownHost}:${addr.port}`,
        server,
        close: (deadlineMs?: number) =>
          (closing ??= new Promise<boolean>((done) => {
            // close() waits for open connections; idle keep-alive ones are closed now and
            // busy ones as soon as their response is written.
            let cut = false;
            server.close(() => done(!cut));
            server.closeIdleConnections();
            const sweep = setInterval(() => server.closeIdleConnections(), 20);
            const deadline =
              deadlineMs === undefined
                ? undefined
                : setTimeout(() => {
                    cut = true;
                    server.closeAllConnections();
                  }, timerMs(deadlineMs));
            server.once('close', () => {
              clearInterval(sweep);
              clearTimeout(deadline);
            });
          })),
      });
    });
  });
}
