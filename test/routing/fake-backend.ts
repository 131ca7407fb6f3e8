import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a fake backend does with one inference request. */
export interface FakeBehaviour {
  status: number;
  delayMs: number;
  ready: boolean;
  /** When set, the answer is this many KiB sent in 1 KiB chunks (chunked encoding). */
  streamKiB?: number;
  /** Sends the status line, headers and part of the body, then drops the connection. */
  dieMidAnswer?: boolean;
  /** Extra headers on the answer (retry-after, say). */
  headers?: Record<string, string>;
}

/**
 * A tiny OIP v2 backend on 127.0.0.1 for router tests: answers infer with a fixed body
 * naming itself, after a delay, with a chosen status; counts what it received.
 */
export class FakeBackend {
  readonly behaviour: FakeBehaviour = { status: 200, delayMs: 0, ready: true };
  readonly received: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
  inFlight = 0;
  /** Requests whose connection closed before this backend answered them. */
  cancelled = 0;
  private server: Server | undefined;
  url = '';

  constructor(readonly name: string) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.url === '/v2/health/ready') {
      res.writeHead(this.behaviour.ready ? 200 : 503).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      this.inFlight++;
      res.on('close', () => {
        if (!res.writableFinished) this.cancelled++;
      });
      const { status, delayMs, streamKiB } = this.behaviour;
      setTimeout(() => {
        this.inFlight--;
        if (this.behaviour.dieMidAnswer === true) {
          res.writeHead(status, { 'content-type': 'application/json', 'content-length': 1000 });
          res.write('{"model_name":"rm2",');
          setTimeout(() => res.socket?.destroy(), 20);
          return;
        }
        if (streamKiB !== undefined) {
          res.writeHead(status, { 'content-type': 'application/octet-stream' });
          for (let k = 0; k < streamKiB; k++) res.write(Buffer.alloc(1024, k % 256));
          res.end();
          return;
        }
        const body = JSON.stringify({ model_name: 'rm2', id: this.name, outputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [1] }] });
        res.writeHead(status, { ...this.behaviour.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      }, delayMs);
    });
  }
}

/** An OIP v2 inference body with one FP32 input of batch `batch`. */
export function inferBody(batch: number, parameters?: Record<string, unknown>): string {
  return JSON.stringify({
    inputs: [{ name: 'x', shape: [batch, 2], datatype: 'FP32', data: Array.from({ length: batch * 2 }, () => 0.5) }],
    ...(parameters !== undefined ? { parameters } : {}),
  });
}
