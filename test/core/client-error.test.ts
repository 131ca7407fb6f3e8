import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { answerClientError } from '../../src/core/client-error.ts';
import { RealClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/log.ts';
import { createNodeApp, listen, type InferenceNode } from '../../src/node/http.ts';
import { startRouter } from '../routing/harness.ts';

/** Sends raw bytes and reads until the server closes the connection. */
function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', reject);
    s.on('close', () => resolve(out));
    s.write(bytes);
  });
}

const MALFORMED: ReadonlyArray<[string, string]> = [
  ['a garbage request line', 'HELLO\r\n\r\n'],
  ['a header line without a colon', 'GET /v2/health/live HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n'],
  ['two lengths', 'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}'],
  ['a length that is not a number', 'POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
];

/** Every malformed request gets a 400 (431 for oversized headers) with a JSON error, as other mistakes do. */
async function checkServer(url: string): Promise<void> {
  for (const [what, bytes] of MALFORMED) {
    const answer = await raw(url, bytes);
    assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/, what);
    assert.match(answer, /content-type: application\/json/i, what);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string };
    assert.match(body.error, /^request: not valid HTTP\/1\.1 \(HPE_/, what);
  }
  const big = await raw(url, `GET /v2/health/live HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431 /);
  assert.match(big, /\{"error":"headers: over the \d+-byte limit"\}$/);
  // Without Host, Node's own check answered a bare 400 with an empty body.
  const hostless = await raw(url, 'GET /v2/health/live HTTP/1.1\r\n\r\n');
  assert.match(hostless, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(hostless, /\r\nconnection: close\r\n/i);
  assert.match(hostless, /\{"error":"request: an HTTP\/1\.1 request needs a Host header"\}$/);
  // A request that expects 100 Continue is refused, not invited to send its body first.
  const expecting = await raw(url, 'POST /v2/models/m/infer HTTP/1.1\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n');
  assert.match(expecting, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.doesNotMatch(expecting, /100 Continue/);
  // With a Host, the request is invited (100 Continue) and served.
  const served = await new Promise<number>((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = request({ host: hostname, port: Number(port), method: 'POST', path: '/v2/models/m/infer', headers: { expect: '100-continue', 'content-type': 'application/json', 'content-length': 2 } });
    req.on('continue', () => req.end('{}'));
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  assert.notEqual(served, 400, 'a request with a Host that expects 100 Continue is served');
  // HTTP/1.0 has no Host requirement.
  assert.match(await raw(url, 'GET /v2/health/live HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200 /);
}

describe('answerClientError: malformed HTTP gets a JSON error', () => {
  it('answers a timeout 408 and oversized chunk extensions 413, as Node would, and closes the socket', async () => {
    for (const [code, status] of [['ERR_HTTP_REQUEST_TIMEOUT', '408 Request Timeout'], ['HPE_CHUNK_EXTENSIONS_OVERFLOW', '413 Payload Too Large'], ['HPE_INVALID_METHOD', '400 Bad Request']] as const) {
      let written = '';
      const socket = new Duplex({ read() {}, write(chunk: Buffer, _enc, done) { written += chunk.toString(); done(); } });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      answerClientError(Object.assign(new Error('x'), { code }), socket);
      await closed;
      assert.match(written, new RegExp(`^HTTP/1\\.1 ${status}\r\n`), code);
      assert.ok(socket.destroyed, code);
    }
  });

  it('from the router', async () => {
    const { server, url } = await startRouter();
    try {
      await checkServer(url);
    } finally {
      await server.close();
    }
  });

  it('from a node', async () => {
    const node: InferenceNode = { modelName: 'm', requireInputs: false, metadata: () => ({}), infer: () => Promise.resolve({ model_name: 'm', outputs: [] }) };
    const server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
    try {
      await checkServer(server.url);
    } finally {
      await server.close();
    }
  });
});
