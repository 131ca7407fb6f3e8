import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RealClock } from '../../src/core/clock.ts';
import { parseClassMix } from '../../src/load/classes.ts';
import { PayloadBuilder } from '../../src/load/payload.ts';
import { inferUrl, replayTrace, type ReplayReport } from '../../src/load/replay.ts';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));

/** Runs the CLI without blocking this process (the stub server lives here). */
function runCliAsync(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

interface Seen {
  readonly atMs: number;
  readonly path: string;
  readonly body: { parameters: { size: number; class?: string }; inputs: Array<{ shape: number[] }> };
}

/** A stub backend: records when each request arrived and answers after `delayFor(i)` ms. */
async function stub(delayFor: (i: number) => number): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const clock = new RealClock();
  const server = createServer((req: IncomingMessage, res) => {
    if (req.method !== 'POST') {
      // Not a router: no /v1/snapshot, so the replay watches no fleet.
      res.statusCode = 404;
      res.end();
      return;
    }
    const at = clock.now();
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const i = seen.length;
      seen.push({ atMs: at, path: req.url ?? '', body: JSON.parse(data) as Seen['body'] });
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ model_name: 'm', outputs: [] }));
      }, delayFor(i));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

describe('load generator (trace replay)', function () {
  this.timeout(30_000);
  let dir: string;
  let trace: string;
  const times = [0, 100, 200, 300, 400, 500, 600, 700];
  const sizes = [10, 20, 30, 40, 50, 60, 70, 80];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    trace = join(dir, 'trace.csv');
    writeFileSync(trace, `t_ms,size\n${times.map((t, i) => `${t},${sizes[i]}`).join('\n')}\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const payload = new PayloadBuilder({ kind: 'size', parameters: {} });

  it('sends each arrival at its trace time (never early), with the size from the trace, to the infer path', async () => {
    const s = await stub(() => 5);
    try {
      const clock = new RealClock();
      const t0 = clock.now();
      const report = await replayTrace({ trace: { path: trace }, target: s.url, model: 'rm2', payload }, clock);
      assert.equal(report.sent, 8);
      assert.equal(report.ok, 8);
      assert.deepEqual(s.seen.map((x) => x.body.parameters.size), sizes);
      assert.deepEqual(s.seen.map((x) => x.body.inputs[0]!.shape), sizes.map((n) => [n, 1]));
      assert.ok(s.seen.every((x) => x.path === '/v2/models/rm2/infer'));
      s.seen.forEach((x, i) => assert.ok(x.atMs - t0 >= times[i]! - 1, `request ${i} arrived ${x.atMs - t0} ms in, planned ${times[i]}`));
      // Every latency includes the stub's 5 ms.
      assert.ok(report.classes.all!.latencyMs!.p50 >= 5);
      assert.deepEqual(report.fleet, []);
    } finally {
      s.server.close();
    }
  });

  it('measures latency from the intended send time: a stalled server shows up as latency (no coordinated omission)', async () => {
    // One connection; the first answer takes 450 ms, the rest 1 ms. A closed-loop client would
    // send request 2 late and report ~1 ms for it; the intended time says it waited ~350 ms.
    const s = await stub((i) => (i === 0 ? 450 : 1));
    try {
      const latencies: number[] = [];
      await replayTrace(
        { trace: { path: trace }, target: s.url, model: 'rm2', payload, connections: 1, onResponse: (r) => (latencies[r.intendedMs / 100] = r.latencyMs) },
        new RealClock(),
      );
      assert.ok(latencies[0]! >= 450);
      assert.ok(latencies[1]! >= 340, `request 2 latency ${latencies[1]}`);
      assert.ok(latencies[3]! >= 140, `request 4 latency ${latencies[3]}`);
    } finally {
      s.server.close();
    }
  });

  it('replays faster under a time scale', async () => {
    const s = await stub(() => 1);
    try {
      const clock = new RealClock();
      const t = clock.now();
      await replayTrace({ trace: { path: trace, timeScale: 4 }, target: s.url, model: 'rm2', payload }, clock);
      const gaps = s.seen.map((x) => x.atMs - t);
      // Sends are paced by timers: early by at most the ~1 ms timer granularity.
      gaps.forEach((g, i) => assert.ok(g >= times[i]! / 4 - 1, `request ${i} at ${g} ms`));
      assert.ok(clock.now() - t >= 700 / 4);
    } finally {
      s.server.close();
    }
  });

  it('labels requests with classes by share and reports percentiles per class', async () => {
    const s = await stub(() => 1);
    try {
      const report = await replayTrace({ trace: { path: trace }, target: s.url, model: 'rm2', payload, classes: parseClassMix('a:1,b:1'), seed: 3 }, new RealClock());
      const labels = s.seen.map((x) => x.body.parameters.class);
      assert.ok(labels.every((l) => l === 'a' || l === 'b'));
      assert.equal(report.classes.a!.sent, labels.filter((l) => l === 'a').length);
      assert.equal(report.classes.b!.sent, labels.filter((l) => l === 'b').length);
      assert.equal(report.classes.all!.sent, 8);
      assert.ok(report.classes.a!.latencyMs!.p99 >= 1);
    } finally {
      s.server.close();
    }
  });

  it('counts failures by reason instead of recording their latency', async () => {
    const report = await replayTrace({ trace: { path: trace, durationMs: 250 }, target: 'http://127.0.0.1:1', model: 'rm2', payload }, new RealClock());
    assert.equal(report.sent, 3);
    assert.equal(report.ok, 0);
    assert.deepEqual(report.failures, { ECONNREFUSED: 3 });
  });

  it("keeps the first answer of each failure reason, so the report says why (the node's own words)", async () => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'latency_ms: 8 ms is impossible for 10 rows' })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const report = await replayTrace({ trace: { path: trace, durationMs: 250 }, target: url, model: 'rm2', payload }, new RealClock());
      assert.deepEqual(report.failures, { 'http 400': 3 });
      assert.deepEqual(report.failureExamples, { 'http 400': 'latency_ms: 8 ms is impossible for 10 rows' });
    } finally {
      server.close();
    }
  });

  it('reports the offered rate between the first and last arrival, and none for a single arrival', async () => {
    const s = await stub(() => 1);
    try {
      const two = join(dir, 'two.csv');
      writeFileSync(two, 't_ms,size\n0,1\n500,1\n');
      assert.equal((await replayTrace({ trace: { path: two }, target: s.url, model: 'rm2', payload }, new RealClock())).offeredRps, 2);
      const one = join(dir, 'one.csv');
      writeFileSync(one, 't_ms,size\n0,1\n');
      assert.equal((await replayTrace({ trace: { path: one }, target: s.url, model: 'rm2', payload }, new RealClock())).offeredRps, null);
    } finally {
      s.server.close();
    }
  });

  /** Replays the trace against `url`, interrupted `afterMs` in, with a 100 ms grace for answers in flight. */
  async function interruptedAt(url: string, afterMs: number): Promise<{ report: ReplayReport; tookMs: number }> {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), afterMs);
    const clock = new RealClock();
    const t0 = clock.now();
    const report = await replayTrace({ trace: { path: trace }, target: url, model: 'rm2', payload, signal: stop.signal, graceMs: 100 }, clock);
    return { report, tookMs: clock.now() - t0 };
  }

  it('on interrupt stops sending, waits a grace period for the answers in flight, and counts the rest as interrupted', async () => {
    // Interrupted at 250 ms with a 100 ms grace: requests at 0, 100 and 200 ms were sent; the
    // first answers after 50 ms, the others would take 5 s and are cut when the grace ends.
    const s = await stub((i) => (i === 0 ? 50 : 5000));
    try {
      const { report, tookMs } = await interruptedAt(s.url, 250);
      assert.equal(report.interrupted, true);
      assert.equal(report.sent, 3);
      assert.equal(report.ok, 1);
      assert.deepEqual(report.failures, { interrupted: 2 });
      assert.ok(tookMs < 1000, 'did not wait for the 5 s answers');
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });

  it('times a request out --timeout after its intended send, time queued for a connection included', async () => {
    // One connection, three arrivals at 0 ms, each answer 400 ms: the second would answer at
    // 800 ms and the third at 1200 ms, past a 600 ms timeout that only counted from the socket.
    const t = join(dir, 'burst.csv');
    writeFileSync(t, 't_ms,size\n0,1\n0,1\n0,1\n');
    const s = await stub(() => 400);
    try {
      const report = await replayTrace({ trace: { path: t }, target: s.url, model: 'rm2', payload, connections: 1, timeoutMs: 600 }, new RealClock());
      assert.equal(report.ok, 1);
      assert.deepEqual(report.failures, { timeout: 2 });
    } finally {
      s.server.close();
    }
  });

  it("reports the duration from the first intended send to the last answer, not the fleet watcher's stop", async () => {
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') return void res.end(JSON.stringify({ pools: [{ type: 'r5n.large', backends: 2 }] }));
      req.resume();
      req.on('end', () => res.end('{"outputs":[]}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const clock = new RealClock();
      const before = clock.now();
      let lastAnswer = 0;
      const report = await replayTrace({ trace: { path: trace }, target: url, model: 'rm2', payload, onResponse: () => (lastAnswer = clock.now()) }, clock);
      assert.equal(report.ok, 8);
      assert.ok(report.durationMs >= 700, `duration ${report.durationMs} ms`);
      // Not after the last answer (the watcher's stop waited out its poll first).
      assert.ok(report.durationMs <= lastAnswer - before + 1, `duration ${report.durationMs} ms, last answer ${lastAnswer - before} ms in`);
    } finally {
      server.close();
    }
  });

  it('on interrupt while only answers are awaited (everything sent), gives them the grace period too', async () => {
    const s = await stub(() => 5000);
    try {
      const { report, tookMs } = await interruptedAt(s.url, 800);
      assert.equal(report.sent, 8);
      assert.deepEqual(report.failures, { interrupted: 8 });
      assert.equal(report.interrupted, true);
      assert.ok(tookMs < 2000, `took ${tookMs} ms`);
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });

  it('says what a timeout was in the failure examples', async () => {
    const s = await stub(() => 2000);
    try {
      const report = await replayTrace({ trace: { path: trace, durationMs: 50 }, target: s.url, model: 'rm2', payload, timeoutMs: 200 }, new RealClock());
      assert.deepEqual(report.failures, { timeout: 1 });
      assert.deepEqual(report.failureExamples, { timeout: 'no answer within 200 ms of the intended send (--timeout)' });
    } finally {
      s.server.closeAllConnections();
      s.server.close();
    }
  });

  it('accepts a base URL (a gateway path prefix kept) or a full infer URL, versioned or not, as the target', () => {
    assert.equal(inferUrl('http://127.0.0.1:8080', 'rm2').href, 'http://127.0.0.1:8080/v2/models/rm2/infer');
    assert.equal(inferUrl('http://127.0.0.1:8080/v2/models/x/infer', 'rm2').href, 'http://127.0.0.1:8080/v2/models/x/infer');
    assert.equal(inferUrl('http://127.0.0.1:8080/v2/models/x/versions/1/infer', 'rm2').href, 'http://127.0.0.1:8080/v2/models/x/versions/1/infer');
    assert.equal(inferUrl('http://gw:8080/serving/', 'rm2').href, 'http://gw:8080/serving/v2/models/rm2/infer');
    assert.equal(inferUrl('http://gw:8080/serving', 'rm2').href, 'http://gw:8080/serving/v2/models/rm2/infer');
    // The OIP root, a model's URL, or an infer URL with a trailing slash: no doubled paths.
    assert.equal(inferUrl('http://h:8080/v2', 'rm2').href, 'http://h:8080/v2/models/rm2/infer');
    assert.equal(inferUrl('http://h:8080/gw/v2/', 'rm2').href, 'http://h:8080/gw/v2/models/rm2/infer');
    assert.equal(inferUrl('http://h:8080/v2/models/x', 'rm2').href, 'http://h:8080/v2/models/x/infer');
    assert.equal(inferUrl('http://h:8080/v2/models/x/versions/2', 'rm2').href, 'http://h:8080/v2/models/x/versions/2/infer');
    assert.equal(inferUrl('http://h:8080/v2/models/x/infer/', 'rm2').href, 'http://h:8080/v2/models/x/infer');
    assert.throws(() => inferUrl('localhost:8080', 'rm2'), /--target: "localhost:8080" must be http\(s\)|is not a URL/);
  });

  it('mixscale load prints per-class percentiles, and --json the report', async () => {
    // (two CLI runs: the human summary, then --json)
    const s = await stub(() => 2);
    try {
      const human = await runCliAsync(['load', '--trace', trace, '--target', s.url, '--no-progress', '--classes', 'interactive:1,batch:1']);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /8 requests in [\d.]+ s .*8 ok, 0 failed/);
      assert.match(human.stdout, /^interactive\s+\d+\s+\d+\s+0\s+[\d.]+/m);
      assert.match(human.stdout, /p99 ms/);
      const json = await runCliAsync(['load', '--trace', trace, '--target', s.url, '--no-progress', '--json']);
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as { sent: number; ok: number; classes: Record<string, { latencyMs: { p99: number } }> };
      assert.equal(report.sent, 8);
      assert.equal(report.ok, 8);
      assert.ok(report.classes.all!.latencyMs!.p99 >= 2);
    } finally {
      s.server.close();
    }
  });
});

describe('mixscale load (usage)', function () {
  this.timeout(30_000);
  it('Ctrl-C prints the summary of what was sent, writes the JSON report marked interrupted, and exits 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    const s = await stub(() => 1);
    try {
      writeFileSync(join(dir, 't.csv'), `t_ms,size\n${Array.from({ length: 100 }, (_, i) => `${i * 100},1`).join('\n')}\n`);
      const json = join(dir, 'out.json');
      const child = spawn(process.execPath, [BIN, 'load', '--trace', join(dir, 't.csv'), '--target', s.url, '--no-progress', '--json', json]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Interrupted once a few requests have arrived (the whole trace takes 10 s).
      while (s.seen.length < 3) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.on('close', r));
      assert.equal(code, 130, stderr);
      assert.match(stdout, /requests in .* failed, interrupted/);
      assert.match(stderr, /^mixscale: load: interrupted after \d+ requests; the report covers those\n$/);
      const report = JSON.parse(readFileSync(json, 'utf8')) as { interrupted: boolean; sent: number };
      assert.equal(report.interrupted, true);
      assert.ok(report.sent >= 3 && report.sent < 100, `sent ${report.sent}`);
    } finally {
      s.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });


  it('targets the router of --config when no --target is given', async () => {
    const s = await stub(() => 1);
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      const port = new URL(s.url).port;
      writeFileSync(join(dir, 't.csv'), 't_ms,size\n0,10\n20,20\n');
      writeFileSync(
        join(dir, 'c.yaml'),
        `budget: { usdPerHour: 1 }\nclasses: [{ name: rm2, model: rm2, slo: 350ms }]\npools: [{ name: r5n, type: r5n.large }]\nrouter: { listen: { host: 127.0.0.1, port: ${port} } }\n`,
      );
      const r = await runCliAsync(['load', '--config', join(dir, 'c.yaml'), '--trace', join(dir, 't.csv'), '--no-progress']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(s.seen.length, 2);
    } finally {
      s.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing trace file in one line and exits 2', async () => {
    const r = await runCliAsync(['load', '--trace', join(tmpdir(), 'mixscale-no-such-trace.csv'), '--target', 'http://127.0.0.1:1', '--no-progress']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /mixscale-no-such-trace\.csv/);
  });

  it('checks --json FILE before sending anything: a directory is one line naming the flag', async () => {
    const s = await stub(() => 1);
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      writeFileSync(join(dir, 't.csv'), 't_ms,size\n0,10\n20,20\n');
      const r = await runCliAsync(['load', '--trace', join(dir, 't.csv'), '--target', s.url, '--no-progress', '--json', dir]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `mixscale: --json: cannot write ${dir}: is a directory\n`);
      assert.equal(s.seen.length, 0, 'nothing was sent');
    } finally {
      s.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a folder given as the trace in one line and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      const r = await runCliAsync(['load', '--trace', dir, '--target', 'http://127.0.0.1:1', '--no-progress']);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `mixscale: cannot read trace ${dir}: is a directory\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 when no request succeeded, after printing the summary and writing the JSON report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      // A listener that is closed again: every connection is refused.
      const s = await stub(() => 1);
      s.server.close();
      writeFileSync(join(dir, 't.csv'), 't_ms,size\n0,10\n20,20\n');
      const json = join(dir, 'out.json');
      const r = await runCliAsync(['load', '--trace', join(dir, 't.csv'), '--target', s.url, '--no-progress', '--json', json]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /2 requests in .* 0 ok, 2 failed \(ECONNREFUSED: 2\)/);
      assert.equal(r.stderr, `mixscale: load: none of the 2 requests to ${s.url}/v2/models/rm2/infer succeeded (ECONNREFUSED: 2)\n`);
      assert.equal((JSON.parse(readFileSync(json, 'utf8')) as { failed: number }).failed, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad flag values before sending anything, naming the flag', async () => {
    const s = await stub(() => 1);
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      writeFileSync(join(dir, 't.csv'), 't_ms,size\n0,10\n20,20\n');
      for (const [args, message] of [
        [['--seed', '-1'], '--seed: expected an integer ≥ 0, got "-1"'],
        [['--seed', 'abc'], '--seed: expected an integer ≥ 0, got "abc"'],
        [['--timeout', '0'], '--timeout: expected a duration above zero, got "0"'],
        [['--duration', '0s'], '--duration: expected a duration above zero, got "0s"'],
        [['--connections', '1.5'], '--connections: expected a positive integer, got "1.5"'],
        [['--classes', 'a:1,a:2'], '--classes: class "a" is given twice; give each class once with its share'],
        [['--start', '99h'], '--start: no arrivals in the chosen window: it starts at 99h, past the end of t.csv (20ms)'],
        [['--sizes', 'fixed:100001'], '--sizes: 100001 is more than 100000, the most rows a node takes in one request'],
      ] as const) {
        const r = await runCliAsync(['load', '--trace', join(dir, 't.csv'), '--target', s.url, '--no-progress', ...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, `mixscale: ${message}\n`);
      }
      // A trace size whose body the generator could not build (it ran out of memory) is a bad row.
      writeFileSync(join(dir, 'big.csv'), 't_ms,size\n0,10\n20,300000000\n');
      const big = await runCliAsync(['load', '--trace', join(dir, 'big.csv'), '--target', s.url, '--no-progress']);
      assert.equal(big.code, 2, big.stderr);
      assert.equal(big.stderr, `mixscale: ${join(dir, 'big.csv')}:3: size "300000000" is more than 100000, the most rows a node takes in one request\n`);
      assert.equal(s.seen.length, 0, 'nothing was sent');
    } finally {
      s.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names --trace-model with the models the trace has when the chosen one is not there', async () => {
    const s = await stub(() => 1);
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      writeFileSync(join(dir, 'rate_model.csv'), 't_s,model,rps\n0,rm2,5\n1,wnd,3\n2,rm2,5\n');
      writeFileSync(join(dir, 'plain.csv'), 't_ms,size\n0,10\n');
      const missing = await runCliAsync(['load', '--trace', join(dir, 'rate_model.csv'), '--trace-model', 'nope', '--target', s.url, '--no-progress']);
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, 'mixscale: --trace-model: "nope" is not in rate_model.csv (models: rm2, wnd)\n');
      const none = await runCliAsync(['load', '--trace', join(dir, 'plain.csv'), '--trace-model', 'rm2', '--target', s.url, '--no-progress']);
      assert.equal(none.code, 2);
      assert.equal(none.stderr, 'mixscale: --trace-model: "rm2" is not in plain.csv (it has no model column)\n');
      assert.equal(s.seen.length, 0, 'nothing was sent');
    } finally {
      s.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--skip-bad-rows skips malformed rows and says how many in the summary', async () => {
    const s = await stub(() => 1);
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      writeFileSync(join(dir, 't.csv'), 't_ms,size\n0,10\nsoon,3\n20,20\n');
      const r = await runCliAsync(['load', '--trace', join(dir, 't.csv'), '--target', s.url, '--no-progress', '--skip-bad-rows']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /2 requests in .* 2 ok, 0 failed/);
      assert.match(r.stdout, /\nskipped 1 bad trace row \(--skip-bad-rows\), first: .*t\.csv:3: t_ms "soon"/);
    } finally {
      s.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a target that is not a URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-'));
    try {
      writeFileSync(join(dir, 't.csv'), 't_ms,size\n0,10\n');
      const r = await runCliAsync(['load', '--trace', join(dir, 't.csv'), '--target', 'nope', '--no-progress']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--target: "nope"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
