import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';

/**
 * A minimal node proxy, for scale: buffer the body, forward it over one undici pool with
 * undici's dispatch API as the router does, answer in one write. No parsing, policy, health or
 * metrics, and no tuning either (the router, tuned, now reaches 0.9–1.1× of it).
 * Prints its URL as the first stdout line. Usage: bare-proxy.ts BACKEND_URL
 */
const target = process.argv[2]!;
const pool = new Pool(target, { connections: 32, pipelining: 1 });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let status = 502;
    let answer: Buffer | undefined;
    // onRequestStart marks this as a handler of undici's current dispatch API.
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart: () => undefined,
      onResponseStart: (_c, s) => {
        status = s;
      },
      onResponseData: (_c, d) => {
        answer = answer === undefined ? d : Buffer.concat([answer, d]);
      },
      onResponseEnd: () => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(answer?.length ?? 0) }).end(answer);
      },
      onResponseError: () => {
        res.writeHead(502).end();
      },
    };
    pool.dispatch({ origin: target, path: req.url ?? '/', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(body.length) }, body }, handler);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
