import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { RealClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/log.ts';
import { createNodeApp, listen, type InferenceNode } from '../../src/node/http.ts';
import type { OipInferResponse } from '../../src/node/oip.ts';

/** `n` inference requests back to back, as one write on one connection (HTTP/1.1 pipelining). */
function pipelined(n: number): string {
  const body = '{"parameters":{"size":1}}';
  return `POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`.repeat(n);
}

/** A node whose inference is `infer` (model "m", no input checks). */
const stubNode = (infer: InferenceNode['infer']): InferenceNode => ({ modelName: 'm', requireInputs: false, metadata: () => ({}), infer });

describe('node HTTP front', () => {
  it('aborts every request pipelined on a connection when the client hangs up, not only the first', async function () {
    this.timeout(10_000);
    const signals: AbortSignal[] = [];
    let three = (): void => {};
    const started = new Promise<void>((r) => (three = r));
    const node = stubNode(
      (_req, _arrival, signal) =>
        new Promise((finish) => {
          signals.push(signal!);
          if (signals.length === 3) three();
          signal!.addEventListener('abort', () => finish({ model_name: 'm', outputs: [] }));
        }),
    );
    const server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
    try {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1', () => socket.write(pipelined(3)));
      socket.on('error', () => {});
      await started;
      const aborted = Promise.all(signals.map((sig) => new Promise<void>((r) => (sig.aborted ? r() : sig.addEventListener('abort', () => r())))));
      socket.destroy();
      await aborted; // (the test times out if a queued one is never told)
      assert.ok(signals.every((sig) => sig.aborted));
    } finally {
      await server.close();
    }
  });

  it('adds no listener per request to a shared connection: fifteen pipelined requests, no MaxListeners warning', async () => {
    // Each answer takes a while, so all fifteen are in flight at once.
    const node = stubNode(() => new Promise((r) => setTimeout(() => r({ model_name: 'm', outputs: [] }), 50)));
    const server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const { port } = new URL(server.url);
      const answers = await new Promise<number>((resolve) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(pipelined(15)));
        let got = '';
        socket.on('data', (d: Buffer) => {
          got += d.toString();
          const n = (got.match(/HTTP\/1\.1 200/g) ?? []).length;
          if (n === 15) {
            socket.destroy();
            resolve(n);
          }
        });
      });
      assert.equal(answers, 15);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
      await server.close();
    }
  });

  it('aborts the signal it gives the node when the client hangs up before the answer, and keeps serving', async function () {
    this.timeout(10_000); // fails (never aborted) rather than hangs
    const calls: Array<{ signal: AbortSignal; finish: (r: OipInferResponse) => void }> = [];
    let called = (): void => {};
    const node = stubNode(
      (_req, _arrival, signal) =>
        new Promise((finish) => {
          calls.push({ signal: signal!, finish });
          called();
        }),
    );
    const nextCall = (): Promise<void> => new Promise((r) => (called = r));
    const server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
    try {
      const first = nextCall();
      const req = request(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => {}); // the hang-up below
      req.end('{"parameters":{"size":1}}');
      await first;
      assert.equal(calls[0]!.signal.aborted, false);
      const aborted = new Promise<void>((r) => calls[0]!.signal.addEventListener('abort', () => r()));
      req.destroy();
      await aborted;
      calls[0]!.finish({ model_name: 'm', outputs: [] }); // an answer nobody waits for is dropped

      const second = nextCall();
      const ok = fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"parameters":{"size":1}}' });
      await second;
      calls[1]!.finish({ model_name: 'm', outputs: [] });
      assert.equal((await ok).status, 200);
      assert.equal(calls[1]!.signal.aborted, false, 'an answered request is not aborted');
    } finally {
      for (const c of calls) c.finish({ model_name: 'm', outputs: [] });
      await server.close();
    }
  });

  /** A stub node ("m", answering one output) served on loopback while `fn` runs. */
  async function served(fn: (url: string) => Promise<void>, node: InferenceNode = stubNode(async () => ({ model_name: 'm', outputs: [] }))): Promise<void> {
    const server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
    try {
      await fn(server.url);
    } finally {
      await server.close();
    }
  }

  it('answers a body that is JSON but not an object with 400 "body: expected a JSON object", not "not valid JSON"', async () => {
    await served(async (url) => {
      for (const [body, got] of [['null', 'null'], ['123', '123'], ['[]', 'a list'], ['"x"', '"x"'], ['true', 'true']] as Array<[string, string]>) {
        const r = await fetch(`${url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        assert.equal(r.status, 400, body);
        assert.equal(((await r.json()) as { error: string }).error, `body: expected a JSON object (an OIP v2 inference request), got ${got}`, body);
      }
      const broken = await fetch(`${url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [' });
      assert.equal(broken.status, 400);
      assert.match(((await broken.json()) as { error: string }).error, /^body: not valid JSON \(/);
    });
  });

  it('refuses a plain body whose declared length is over node.bodyLimit at once, before it is sent (413, connection closed)', async () => {
    await served(async (url) => {
      const { port } = new URL(url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let got = '';
        socket.on('data', (d) => (got += d.toString()));
        socket.on('end', () => resolve(got));
        socket.on('error', reject);
        // Declares 99 GB and sends two bytes: the answer must not wait for the rest.
        socket.write('POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}');
      });
      assert.match(answer, /^HTTP\/1\.1 413 /);
      assert.match(answer, /\r\nconnection: close\r\n/i);
      assert.match(answer, /"error":"body: larger than the 4194304-byte limit \(node\.bodyLimit\)"/);
    });
  });

  it('answers a known route asked with another method 405 with an allow header (OPTIONS 204), and only an unknown path 404', async () => {
    await served(async (url) => {
      const cases: Array<[string, string, string]> = [
        ['GET', '/v2/models/m/infer', 'POST, OPTIONS'],
        ['PUT', '/v2/models/m/versions/1/infer', 'POST, OPTIONS'],
        ['GET', '/v2/models/other/infer', 'POST, OPTIONS'],
        ['POST', '/v2/health/live', 'GET, HEAD, OPTIONS'],
        ['POST', '/v2/health/ready', 'GET, HEAD, OPTIONS'],
        ['DELETE', '/v2', 'GET, HEAD, OPTIONS'],
        ['POST', '/v2/models/m', 'GET, HEAD, OPTIONS'],
        ['POST', '/v2/models/m/versions/1', 'GET, HEAD, OPTIONS'],
        ['POST', '/v2/models/m/ready', 'GET, HEAD, OPTIONS'],
        ['POST', '/v2/models/m/versions/1/ready', 'GET, HEAD, OPTIONS'],
      ];
      for (const [method, path, allow] of cases) {
        const r = await fetch(`${url}${path}`, { method });
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
        assert.equal(((await r.json()) as { error: string }).error, `method ${method} is not allowed on ${path} (it takes ${allow.replace(', OPTIONS', '')})`);
      }
      const options = await fetch(`${url}/v2/models/m/infer`, { method: 'OPTIONS' });
      assert.equal(options.status, 204);
      assert.equal(options.headers.get('allow'), 'POST, OPTIONS');
      assert.equal((await fetch(`${url}/v2/models/m`, { method: 'HEAD' })).status, 200);
      const unknown = await fetch(`${url}/v2/models/m/explain`);
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as { error: string }).error, 'not found (OIP v2 routes are under /v2)');
    });
  });

  it('keeps only the outputs a request names (the names its metadata declares), in the order named', async () => {
    const answer: OipInferResponse = { model_name: 'm', outputs: ['a', 'b', 'c'].map((name) => ({ name, datatype: 'FP32', shape: [1], data: [0] })) };
    let calls = 0;
    const node: InferenceNode = { ...stubNode(async () => (calls++, answer)), metadata: () => ({ outputs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }) };
    await served(async (url) => {
      const infer = (outputs: unknown) => fetch(`${url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { size: 1 }, outputs }) });
      const names = async (outputs: unknown) => ((await (await infer(outputs)).json()) as OipInferResponse).outputs.map((o) => o.name);
      assert.deepEqual(await names([{ name: 'c' }, { name: 'a' }]), ['c', 'a']);
      assert.deepEqual(await names(undefined), ['a', 'b', 'c']);
      assert.deepEqual(await names([]), ['a', 'b', 'c']);
      const before = calls;
      const unknown = await infer([{ name: 'nope' }]);
      assert.equal(unknown.status, 400);
      assert.equal(((await unknown.json()) as { error: string }).error, 'outputs[0].name: "nope" is not an output of m (its outputs: a, b, c)');
      assert.equal(calls, before, 'refused before the node works on it');
    }, node);
  });
});
