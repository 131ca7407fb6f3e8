import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { RealClock } from '../../../src/core/clock.ts';
import { silentLogger } from '../../../src/core/log.ts';
import { EdgeNode } from '../../../src/node/edge/node.ts';
import { MultiExitModel } from '../../../src/node/edge/model.ts';
import { createNodeApp, listen, type RunningServer } from '../../../src/node/http.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models/digits-cnn', import.meta.url));
const rows = readFileSync(`${MODEL_DIR}/digits-test.csv`, 'utf8').trim().split('\n').slice(1, 41).map((l) => l.split(',').map(Number));
const pixels = (i: number): number[] => rows[i]!.slice(1);

interface Reply {
  status: number;
  body: { error?: string; parameters?: Record<string, unknown>; outputs?: Array<{ name: string; shape: number[]; data: number[] }> };
}

describe('edge node over OIP v2', function () {
  this.timeout(60_000);
  let node: EdgeNode;
  let server: RunningServer;

  before(async () => {
    const model = await MultiExitModel.load(MODEL_DIR);
    node = await EdgeNode.start(model, new RealClock(), { policy: 'predictive', percentile: 0.99, confidenceThreshold: 0.95, maxBatchRows: 8, warmupRuns: 10 }, silentLogger);
    server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
  });

  after(async () => {
    await server?.close();
    await node?.close();
  });

  async function infer(body: unknown, model = 'digits-cnn'): Promise<Reply> {
    const r = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Reply['body'] };
  }

  const request = (params: Record<string, unknown>, sample = 0) => ({ inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: pixels(sample) }], parameters: params });

  it('reports live, ready and the model ready', async () => {
    for (const path of ['/v2/health/live', '/v2/health/ready', '/v2/models/digits-cnn/ready']) {
      assert.equal((await fetch(server.url + path)).status, 200, path);
    }
    assert.equal((await fetch(`${server.url}/v2/models/resnet/ready`)).status, 404);
  });

  it('answers with the label, the exit taken, its confidence, the elapsed time and whether the bounds held', async () => {
    const r = await infer(request({ latency_ms: 100 }));
    assert.equal(r.status, 200);
    const p = r.body.parameters!;
    assert.ok([1, 2, 3].includes(p.exit as number));
    assert.ok((p.confidence as number) > 0 && (p.confidence as number) <= 1);
    assert.ok((p.elapsed_ms as number) > 0);
    assert.deepEqual(p.bounds, { latency_ms: 100 });
    assert.equal(p.bound_honoured, true);
    const label = r.body.outputs!.find((o) => o.name === 'label')!;
    assert.deepEqual(label.data, [rows[0]![0]]);
  });

  it('takes the first exit under a latency bound too tight for stage 2', async () => {
    const stage1 = node.latency.quantile(0, 1, 0.5);
    const r = await infer(request({ latency_ms: stage1 + 0.5 }));
    assert.equal(r.status, 200);
    assert.equal(r.body.parameters!.exit, 1);
  });

  it('refuses a latency bound below the first stage\'s median for as many rows as the request carries', async () => {
    const twiceOneRow = node.latency.quantile(0, 1, 0.5) * 2;
    assert.equal((await infer(request({ latency_ms: twiceOneRow }))).status, 200, 'one row fits the bound');
    const r = await infer({ inputs: [{ name: 'input', shape: [64, 64], datatype: 'FP32', data: rows.slice(0, 40).concat(rows.slice(0, 24)).map((x) => x.slice(1)) }], parameters: { latency_ms: twiceOneRow } });
    assert.equal(r.status, 400);
    assert.match(r.body.error!, /^parameters\.latency_ms: [\d.e-]+ ms is impossible: the fastest exit takes [\d.]+ ms at the median on this node for 64 rows/);
  });

  it('runs to the exit an accuracy bound needs', async () => {
    const r = await infer(request({ min_accuracy: 0.99 }));
    assert.equal(r.body.parameters!.exit, 3);
    assert.equal(r.body.parameters!.accuracy, 0.9963);
  });

  it('stops at the last exit within an energy bound', async () => {
    const r = await infer({ ...request({ max_energy: 5 }) });
    assert.equal(r.body.parameters!.exit, 1);
    assert.equal(r.body.parameters!.exit_reason, r.body.parameters!.confidence as number >= 0.95 ? 'confidence' : 'energy');
  });

  it('exits early on confidence when no bound asks for more', async () => {
    // Most test digits pass 0.95 at exit 1 (66.7% in the model's figures).
    const exits = await Promise.all(rows.slice(0, 20).map(async (_, i) => (await infer(request({}, i))).body.parameters!.exit as number));
    assert.ok(exits.filter((e) => e === 1).length >= 8, `exits: ${exits.join(',')}`);
    assert.ok(exits.every((e) => e >= 1 && e <= 3));
  });

  it('serves several samples in one request, one label each', async () => {
    const r = await infer({ inputs: [{ name: 'input', shape: [3, 64], datatype: 'FP32', data: [pixels(0), pixels(1), pixels(2)] }], parameters: { min_accuracy: 0.99 } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.outputs!.find((o) => o.name === 'label')!.data, [rows[0]![0], rows[1]![0], rows[2]![0]]);
  });

  describe('rejects with 400 naming the field', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['a negative latency bound', request({ latency_ms: -3 }), /^parameters\.latency_ms: -3 is out of range/],
      ['an accuracy bound no exit reaches', request({ min_accuracy: 0.999 }), /^parameters\.min_accuracy: 0\.999 is impossible/],
      ['a latency bound below the fastest exit', request({ latency_ms: 0.01 }), /^parameters\.latency_ms: 0\.01 ms is impossible/],
      ['an energy bound below the cheapest exit', request({ max_energy: 1 }), /^parameters\.max_energy: 1 is impossible/],
      ['a missing input', { parameters: {} }, /^inputs: missing/],
      ['a lone input under another name than the model\'s', { inputs: [{ name: 'image', shape: [1, 64], datatype: 'FP32', data: pixels(0) }] }, /^inputs\[0\]\.name: "image" is not an input of digits-cnn \(its input: "input"\)$/],
      ['an input the model does not have beside its own', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: pixels(0) }, { name: 'mask', shape: [1], datatype: 'FP32', data: [1] }] }, /^inputs\[1\]\.name: "mask" is not an input of digits-cnn/],
      ['a wrong input shape', { inputs: [{ name: 'input', shape: [1, 63], datatype: 'FP32', data: pixels(0).slice(1) }] }, /^inputs\[0\]\.shape: expected \[N,64\]/],
      ['data that does not fill the shape', { inputs: [{ name: 'input', shape: [2, 64], datatype: 'FP32', data: pixels(0) }] }, /^inputs\[0\]\.data: has 64 values, shape \[2,64\] needs 128/],
      ['a wrong datatype', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'INT8', data: pixels(0) }] }, /^inputs\[0\]\.datatype: expected FP32/],
      ['malformed JSON', '{"inputs": [', /^body: not valid JSON/],
      ['more rows than one request may carry', { inputs: [{ name: 'input', shape: [65, 64], datatype: 'FP32', data: new Array<number>(65 * 64).fill(0) }] }, /^inputs\[0\]\.shape: 65 rows is more than this node takes in one request \(64/],
      ['a value beyond the FP32 range', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'FP32', data: [1e300, ...pixels(0).slice(1)] }] }, /^inputs\[0\]\.data\[0\]: expected a finite value within ±3\.4028234663852886e\+38 for FP32, got 1e\+300/],
      ['a datatype the router takes but this model does not (BF16)', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'BF16', data: pixels(0) }] }, /^inputs\[0\]\.datatype: expected FP32, got BF16/],
      ['finite FP32 values the model overflows on (NaN output)', { inputs: [{ name: 'input', shape: [2, 64], datatype: 'FP32', data: [pixels(0), new Array<number>(64).fill(1e38)] }] }, /^inputs\[0\]\.data: row 1: the model's exit 1 gives NaN for these values/],
      ['a datatype OIP does not have', { inputs: [{ name: 'input', shape: [1, 64], datatype: 'fp32', data: pixels(0) }] }, /^inputs\[0\]\.datatype: expected one of BOOL, .*got "fp32"/],
      ['values of another kind than the datatype', { inputs: [{ name: 'input', shape: [1, 2], datatype: 'FP32', data: ['a', 'b'] }] }, /^inputs\[0\]\.data\[0\]: expected a number for FP32, got "a"/],
    ];
    for (const [what, body, text] of cases) {
      it(what, async () => {
        const r = await infer(body);
        assert.equal(r.status, 400);
        assert.match(r.body.error!, text);
      });
    }
  });

  it('answers only the outputs a request names, in the order named, and 400 naming outputs[i].name for one it does not have', async () => {
    const label = await infer({ ...request({}), outputs: [{ name: 'label' }] });
    assert.equal(label.status, 200);
    assert.deepEqual(label.body.outputs!.map((o) => o.name), ['label']);
    assert.deepEqual(label.body.outputs![0]!.data, [rows[0]![0]]);
    const both = await infer({ ...request({}), outputs: [{ name: 'label' }, { name: 'probabilities' }] });
    assert.deepEqual(both.body.outputs!.map((o) => o.name), ['label', 'probabilities']);
    assert.deepEqual((await infer({ ...request({}), outputs: [] })).body.outputs!.map((o) => o.name), ['probabilities', 'label']);
    const unknown = await infer({ ...request({}), outputs: [{ name: 'label' }, { name: 'nope' }] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error, 'outputs[1].name: "nope" is not an output of digits-cnn (its outputs: probabilities, label)');
    const notList = await infer({ ...request({}), outputs: 5 });
    assert.equal(notList.status, 400);
    assert.match(notList.body.error!, /^outputs: expected a list of requested outputs/);
  });

  it('serves the versioned OIP routes as the unversioned ones', async () => {
    const r = await fetch(`${server.url}/v2/models/digits-cnn/versions/1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request({})) });
    assert.equal(r.status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/digits-cnn/versions/1/ready`)).status, 200);
    assert.equal((await fetch(`${server.url}/v2/models/digits-cnn/versions/1`)).status, 200);
  });

  it('does not log a client mistake as a server error', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const app = await listen(createNodeApp(node, { clock: new RealClock(), logger }), '127.0.0.1', 0);
    try {
      const r = await fetch(`${app.url}/v2/models/%ZZ/ready`);
      assert.equal(r.status, 400);
      await fetch(`${app.url}/v2/models/digits-cnn/infer`, { method: 'POST', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' });
    } finally {
      await app.close();
    }
    assert.ok(lines.length >= 2, JSON.stringify(lines));
    assert.ok(lines.every((l) => l.level < 40 && l.msg === 'bad request'), JSON.stringify(lines));
  });

  it('answers client mistakes express catches with a 4xx naming what is at fault, and keeps serving', async () => {
    const decode = await fetch(`${server.url}/v2/models/%ZZ/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(decode.status, 400);
    assert.equal(((await decode.json()) as { error: string }).error, 'model: the name in the path is not valid percent-encoding');
    const charset = await fetch(`${server.url}/v2/models/digits-cnn/infer`, { method: 'POST', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{}' });
    assert.equal(charset.status, 415);
    assert.match(((await charset.json()) as { error: string }).error, /^content-type: charset "latin1" is not supported/i);
    const gzip = await fetch(`${server.url}/v2/models/digits-cnn/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: '{}' });
    assert.equal(gzip.status, 400);
    assert.match(((await gzip.json()) as { error: string }).error, /^body: /);
    assert.equal((await infer(request({}))).status, 200);
  });

  it('reads the body as JSON whatever its content-type, as curl -d (form-urlencoded) and text/plain send it', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const r = await fetch(`${server.url}/v2/models/digits-cnn/infer`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(request({})) });
      assert.equal(r.status, 200, type);
      assert.deepEqual(((await r.json()) as Reply['body']).outputs!.find((o) => o.name === 'label')!.data, [rows[0]![0]], type);
    }
  });

  it('answers 404 in the OIP error shape for a model it does not serve', async () => {
    const r = await infer(request({}), 'resnet50');
    assert.equal(r.status, 404);
    assert.match(r.body.error!, /"resnet50" is not served here/);
  });
});
