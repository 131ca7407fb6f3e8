import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { RouterServer } from '../../src/routing/server.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { FirstAvailable, routerTestbed, startRouter, testConfig, until } from './harness.ts';

describe('router server (OIP v2)', () => {
  let router: RouterServer;
  let url: string;
  let a: FakeBackend;
  let b: FakeBackend;
  let policy: FirstAvailable;

  beforeEach(async () => {
    a = await new FakeBackend('a').start();
    b = await new FakeBackend('b').start();
    policy = new FirstAvailable();
    ({ server: router, url } = await startRouter(
      {
        bodyLimit: 2048,
        backends: [
          { id: 'a', url: a.url, type: 'g4dn.xlarge' },
          { id: 'b', url: b.url, type: 'r5n.large' },
        ],
      },
      { policy },
    ));
  });

  afterEach(async () => {
    await router.close();
    await a.stop();
    await b.stop();
  });

  it('proxies an inference request to the backend the policy picked and streams its answer back', async () => {
    const res = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(inferBody(3));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-mixscale-backend'], 'a');
    assert.equal(res.body.id, 'a');
    assert.equal(a.received.length, 1);
    assert.equal(a.received[0]!.url, '/v2/models/rm2/infer');
    assert.deepEqual(JSON.parse(a.received[0]!.body), JSON.parse(inferBody(3)));
  });

  it('reads gzip, deflate and br bodies as the nodes do and forwards them decoded; refuses other encodings with 415 naming the header', async () => {
    const gz = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/octet-stream').set('content-encoding', 'gzip').send(gzipSync(inferBody(3)));
    assert.equal(gz.status, 200, JSON.stringify(gz.body));
    const df = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/octet-stream').set('content-encoding', 'deflate').send(deflateSync(inferBody(4)));
    assert.equal(df.status, 200, JSON.stringify(df.body));
    const br = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/octet-stream').set('content-encoding', 'br').send(brotliCompressSync(inferBody(5)));
    assert.equal(br.status, 200, JSON.stringify(br.body));
    assert.deepEqual(policy.seen.map((r) => r.size), [3, 4, 5]);
    assert.deepEqual(JSON.parse(a.received[0]!.body), JSON.parse(inferBody(3)));
    assert.equal(a.received[0]!.headers['content-encoding'], undefined);
    const bogus = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').set('content-encoding', 'compress').send(inferBody(1));
    assert.equal(bogus.status, 415);
    assert.match(bogus.body.error, /^content-encoding: "compress" is not supported/);
    const garbage = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').set('content-encoding', 'gzip').send(inferBody(1));
    assert.equal(garbage.status, 400);
    assert.match(garbage.body.error, /^body: not valid gzip data/);
    // (Buffers go as octet-stream: supertest would JSON-encode one sent as application/json.)
    // Small on the wire, over router.bodyLimit (2048 bytes here) once decoded.
    const bomb = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/octet-stream').set('content-encoding', 'gzip').send(gzipSync(Buffer.alloc(100_000, 32)));
    assert.equal(bomb.status, 413);
    assert.match(bomb.body.error, /over the 2048-byte limit once decoded/);
    assert.equal(a.received.length + b.received.length, 3);
  });

  it('takes the size from the batch dimension, or from the size parameter when given', async () => {
    await request(url).post('/v2/models/rm2/infer').send(inferBody(7));
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { size: 420 }));
    const bare = await request(url).post('/v2/models/rm2/infer').send({ parameters: { size: 90 } });
    assert.equal(bare.status, 200);
    assert.deepEqual(policy.seen.map((r) => r.size), [7, 420, 90]);
  });

  it('classes a request by priority, deadline header and explicit class', async () => {
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { priority: 'high' }));
    await request(url).post('/v2/models/rm2/infer').set('x-mixscale-deadline-ms', '10000').send(inferBody(1));
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { class: 'batch' }));
    assert.deepEqual(policy.seen.map((r) => [r.classIndex, r.critical]), [
      [0, false],
      [0, true],
      [1, false],
      [1, false],
    ]);
    const withDeadline = policy.seen[2]!;
    assert.equal(withDeadline.deadlineMs - withDeadline.arrivalMs, 10_000);
  });

  it('answers 404 in OIP error shape for an unknown model', async () => {
    const res = await request(url).post('/v2/models/bert/infer').send(inferBody(1));
    assert.equal(res.status, 404);
    assert.match(res.body.error, /unknown model "bert"/);
    const ready = await request(url).get('/v2/models/bert/ready');
    assert.equal(ready.status, 404);
    assert.match(ready.body.error, /unknown model/);
  });

  it('answers 400 naming the field for malformed JSON and malformed tensors', async () => {
    const cases: Array<[string, RegExp]> = [
      ['{not json', /^body: malformed JSON/],
      [JSON.stringify({ inputs: [] }), /^inputs:/],
      [JSON.stringify({ inputs: [{ name: 'x', shape: [2, -1], datatype: 'FP32' }] }), /^inputs\[0\]\.shape\[1\]/],
      [JSON.stringify({ inputs: [{ name: 'x', shape: [2], datatype: 'FLOAT' }] }), /^inputs\[0\]\.datatype/],
      [JSON.stringify({ inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 2, 3] }] }), /^inputs\[0\]\.data: has 3 elements/],
      [inferBody(1, { size: 'big' }), /^parameters\.size/],
      [inferBody(1, { size: 2.5 }), /^parameters\.size: expected a positive integer/],
      [JSON.stringify({ inputs: [{ name: 'x', shape: [0, 4], datatype: 'FP32' }] }), /^inputs\[0\]\.shape: the leading dimension/],
      [inferBody(1, { class: 'nightly' }), /^parameters\.class: "nightly" is not a class/],
    ];
    for (const [body, message] of cases) {
      const res = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(body);
      assert.equal(res.status, 400, body);
      assert.match(res.body.error, message);
    }
    assert.equal(a.received.length + b.received.length, 0);
  });

  it('answers 400 for a deadline header that is not a positive decimal number of milliseconds', async () => {
    for (const v of ['soon', '0x10', '1e3', '-5', '0']) {
      const res = await request(url).post('/v2/models/rm2/infer').set('x-mixscale-deadline-ms', v).send(inferBody(1));
      assert.equal(res.status, 400, v);
      assert.match(res.body.error, /^x-mixscale-deadline-ms: expected a positive number of milliseconds/, v);
    }
    const ok = await request(url).post('/v2/models/rm2/infer').set('x-mixscale-deadline-ms', ' 2500.5 ').send(inferBody(1));
    assert.equal(ok.status, 200);
  });

  it('checks every hint wherever it is given, and names the one at fault', async () => {
    const cases: Array<[Record<string, string>, Record<string, unknown>, RegExp]> = [
      [{ 'x-mixscale-priority': 'maybe' }, { priority: true }, /^x-mixscale-priority/],
      [{ 'x-mixscale-deadline-ms': '100' }, { deadline_ms: -5 }, /^parameters\.deadline_ms/],
      [{ 'x-mixscale-class': 'nope' }, {}, /^x-mixscale-class: "nope" is not a class of model "rm2"/],
      [{}, { class: 'nope' }, /^parameters\.class: "nope" is not a class of model "rm2"/],
    ];
    for (const [headers, parameters, error] of cases) {
      const res = await request(url).post('/v2/models/rm2/infer').set(headers).send(inferBody(1, parameters));
      assert.equal(res.status, 400, JSON.stringify([headers, parameters]));
      assert.match(res.body.error, error);
    }
  });

  it('answers 413 for a body over the configured limit', async () => {
    const res = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(inferBody(400));
    assert.equal(res.status, 413);
    assert.match(res.body.error, /2048-byte limit/);
    assert.equal(a.received.length, 0);
  });

  it('answers 413 for a chunked body that grows over the limit while it streams in', async () => {
    const { request: send } = await import('undici');
    const { Readable } = await import('node:stream');
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(512, 0x20));
    const res = await send(`${url}/v2/models/rm2/infer`, { method: 'POST', body: Readable.from(chunks), headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 413);
    assert.match(((await res.body.json()) as { error: string }).error, /2048-byte limit/);
    assert.equal(a.received.length, 0);
  });

  it('reports live, ready and model ready', async () => {
    assert.equal((await request(url).get('/v2/health/live')).status, 200);
    assert.deepEqual((await request(url).get('/v2/health/ready')).body, { ready: true });
    assert.deepEqual((await request(url).get('/v2/models/rm2/ready')).body, { name: 'rm2', ready: true });
    router.backends.drain('a');
    router.backends.drain('b');
    assert.equal((await request(url).get('/v2/health/ready')).status, 503);
    assert.equal((await request(url).get('/v2/models/rm2/ready')).status, 503);
  });

  it('answers 503 with retry-after when no backend can take the request', async () => {
    router.backends.drain('a');
    router.backends.drain('b');
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.headers['x-mixscale-reject'], 'no-backend');
  });

  it('rejects early, with 504, a request whose own deadline it cannot meet', async () => {
    // rm2 at size 1000 takes about 260 ms on g4dn.xlarge: a 50 ms deadline cannot be met.
    const res = await request(url).post('/v2/models/rm2/infer').set('x-mixscale-deadline-ms', '50').send(inferBody(1, { size: 1000 }));
    assert.equal(res.status, 504);
    assert.equal(res.headers['x-mixscale-reject'], 'deadline');
    assert.match(res.body.error, /50 ms deadline/);
    assert.equal(a.received.length, 0);
  });

  it('passes through a backend error status that is not safe to retry', async () => {
    a.behaviour.status = 500;
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 500);
    assert.equal(b.received.length, 0);
  });

  it('streams a large answer through in full', async () => {
    a.behaviour.streamKiB = 512;
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1)).buffer(true).parse((r, done) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => done(null, Buffer.concat(chunks)));
    });
    assert.equal(res.status, 200);
    const body = res.body as Buffer;
    assert.equal(body.length, 512 * 1024);
    assert.equal(body[511 * 1024], 511 % 256);
  });

  it('serves the versioned infer path too', async () => {
    const res = await request(url).post('/v2/models/rm2/versions/1/infer').send(inferBody(1));
    assert.equal(res.status, 200);
    assert.equal(a.received[0]!.url, '/v2/models/rm2/versions/1/infer');
  });
});

describe('router server when clients go away', () => {
  it('cancels the backend request of a client that disconnects, and counts it out of flight', async () => {
    const a = await new FakeBackend('a').start();
    const { server, url } = await startRouter({ backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }, { policy: new FirstAvailable() });
    try {
      a.behaviour.delayMs = 300;
      const { request: send } = await import('undici');
      const ac = new AbortController();
      const pending = send(`${url}/v2/models/rm2/infer`, { method: 'POST', body: inferBody(1), signal: ac.signal }).catch((e: unknown) => e);
      while (a.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(server.tracker.get('a')!.outstanding, 1);
      ac.abort();
      await pending;
      while (a.cancelled === 0) await new Promise((r) => setTimeout(r, 5));
      while (server.infer.requestsInFlight > 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(server.tracker.get('a')!.outstanding, 0);
      assert.equal(server.backends.get('a')!.consecutiveFailures, 0);
      const next = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
      assert.equal(next.status, 200);
    } finally {
      await server.close();
      await a.stop();
    }
  });

  it('answers 400 for a model name that is not valid percent-encoding', async () => {
    const { server, url } = await startRouter({}, { policy: new FirstAvailable() });
    try {
      const res = await request(url).post('/v2/models/%E0%A4%A/infer').send(inferBody(1));
      assert.equal(res.status, 400);
      assert.match(res.body.error, /^model:/);
    } finally {
      await server.close();
    }
  });
});

describe('router server in operation', () => {
  const bed = routerTestbed();
  const metricsText = async (url: string): Promise<string> => (await request(url).get('/metrics')).text;

  it('cuts a client that stops reading after router.requestTimeout, freeing its backend slot', async function () {
    this.timeout(20_000);
    const a = await bed.backend('a');
    a.behaviour.streamKiB = 64 * 1024; // far more than the socket buffers hold
    const server = bed.serve(new RouterServer(testConfig({ requestTimeout: '500ms', backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }), { healthChecks: false, policy: new FirstAvailable() }));
    const url = await server.listen(0, '127.0.0.1');
    const body = inferBody(1);
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`POST /v2/models/rm2/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    socket.once('data', () => socket.pause()); // reads the first bytes, then nothing more
    try {
      await until(() => server.tracker.get('a')!.outstanding === 1, 'the request is in flight');
      await until(() => server.tracker.get('a')!.outstanding === 0, 'the slot is free again');
      assert.match(await metricsText(url), /mixscale_router_requests_total\{[^}]*backend="a",code="499"\} 1/);
    } finally {
      socket.destroy();
    }
  });

  it('cuts what is still in flight at router.shutdownTimeout and stops', async () => {
    const a = await bed.backend('a', 10_000);
    const server = bed.serve(new RouterServer(testConfig({ shutdownTimeout: '300ms', backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }), { healthChecks: false, policy: new FirstAvailable() }));
    const url = await server.listen(0, '127.0.0.1');
    const pending = request(url).post('/v2/models/rm2/infer').send(inferBody(1)).then(() => 'answered', () => 'cut');
    await until(() => a.inFlight === 1, 'the request reached the backend');
    const t0 = Date.now();
    await server.close();
    assert.ok(Date.now() - t0 < 5_000, `close took ${Date.now() - t0} ms`);
    assert.equal(await pending, 'cut');
  });

  it('answers connection: close once shutting down, so the client does not reuse the connection', async () => {
    const a = await bed.backend('a', 300);
    const server = bed.serve(new RouterServer(testConfig({ backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }), { healthChecks: false, policy: new FirstAvailable() }));
    const url = await server.listen(0, '127.0.0.1');
    const pending = request(url).post('/v2/models/rm2/infer').send(inferBody(1)).then((r) => r);
    await until(() => a.inFlight === 1, 'the request reached the backend');
    const closing = server.close();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.headers['connection'], 'close');
    await closing;
  });

  it('counts an answer the backend broke off as 502 in /metrics, and passes on the retry-after of a 503 it refused with', async () => {
    const a = await bed.backend('a');
    const server = bed.serve(new RouterServer(testConfig({ backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }), { healthChecks: false, policy: new FirstAvailable() }));
    const url = await server.listen(0, '127.0.0.1');
    a.behaviour.dieMidAnswer = true;
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1)).then(() => undefined, () => undefined);
    await until(() => server.infer.requestsInFlight === 0, 'the request ended');
    assert.match(await metricsText(url), /mixscale_router_requests_total\{[^}]*backend="a",code="502"\} 1/);
    a.behaviour.dieMidAnswer = false;
    a.behaviour.status = 503;
    a.behaviour.headers = { 'retry-after': '7' };
    const refused = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '7');
  });
});

describe('router lean listener', () => {
  it('routes repeated and many distinct inference URLs the same way, past its URL memory', async () => {
    const a = await new FakeBackend('a').start();
    const { server, url } = await startRouter({ backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }, { policy: new FirstAvailable() });
    try {
      // 300 distinct query strings: more URLs than the listener remembers (256).
      for (let i = 0; i < 300; i++) {
        const res = await request(url).post(`/v2/models/rm%32/infer?i=${i % 150}&n=${i}`).send(inferBody(1));
        assert.equal(res.status, 200, `request ${i}`);
      }
      assert.equal(a.received.length, 300);
      for (let i = 0; i < 2; i++) {
        const missing = await request(url).post('/v2/models/n%6Fpe/infer').send(inferBody(1));
        assert.equal(missing.status, 404);
        assert.match(missing.body.error, /unknown model "nope"/);
        const other = await request(url).post('/v2/models/rm2/explain').send(inferBody(1));
        assert.equal(other.status, 404);
      }
    } finally {
      await server.close();
      await a.stop();
    }
  });
});
