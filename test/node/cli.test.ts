import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { runCli } from '../support/cli.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));

/** Starts `mixscale node ...` and resolves with its URL once it printed the listening line. */
function startNode(args: string[]): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, '--log-level', 'warn', 'node', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        const { listening } = JSON.parse(line) as { listening: string };
        resolve({ child, url: listening, exited });
      } catch {
        reject(new Error(`first stdout line is not the listening JSON: ${line}`));
      }
    });
    void exited.then((code) => reject(new Error(`node exited ${code} before listening: ${stderr}`)));
  });
}

describe('mixscale node', function () {
  this.timeout(60_000);

  it('emulated: prints {"listening": URL} for port 0, serves, and on SIGTERM finishes in-flight requests and exits 0', async () => {
    const { child, url, exited } = await startNode(['emulated', '--type', 'r5n.large', '--model', 'rm2', '--port', '0', '--seed', '0']);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // About 250 ms of service: still in flight when the signal arrives.
    const inflight = fetch(`${url}/v2/models/rm2/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { size: 610 } }) });
    // Signal only once the node is serving it (its metadata counts busy slots).
    for (let i = 0; i < 200; i++) {
      const meta = (await (await fetch(`${url}/v2/models/rm2`)).json()) as { parameters: { busy: number } };
      if (meta.parameters.busy > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGTERM');
    const reply = await inflight;
    assert.equal(reply.status, 200);
    assert.equal(((await reply.json()) as { parameters: { size: number } }).parameters.size, 610);
    assert.equal(await exited, 0);
  });

  it('edge: serves the shipped model by default and exits 0 on SIGTERM', async () => {
    const { child, url, exited } = await startNode(['edge', '--port', '0', '--warmup-runs', '3']);
    const r = await fetch(`${url}/v2/models/digits-cnn/ready`);
    assert.equal(r.status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('edge and emulated: a port in use is one line and exit 2 (the edge node hung, its probe timer alive)', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = String((busy.address() as AddressInfo).port);
    try {
      for (const args of [['edge', '--warmup-runs', '2'], ['emulated', '--type', 'r5n.large', '--model', 'rm2']]) {
        const child = spawn(process.execPath, [BIN, '--log-level', 'warn', 'node', ...args, '--port', port], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const code = await new Promise<number | null>((done) => child.once('exit', done));
        clearTimeout(timer);
        assert.equal(code, 2, `${args[0]!}: ${stderr}`);
        assert.match(stderr, new RegExp(`^mixscale: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      }
    } finally {
      busy.close();
    }
  });

  it('on SIGTERM cuts a client stalled mid-request after node.shutdownTimeout instead of waiting on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-node-'));
    try {
      const config = join(dir, 'c.yaml');
      writeFileSync(config, 'budget: { usdPerHour: 1 }\nclasses: [{ name: rm2, model: rm2, slo: 350ms }]\npools: [{ name: r5n, type: r5n.large }]\nnode: { shutdownTimeout: 300ms }\n');
      const child = spawn(process.execPath, [BIN, '--log-level', 'warn', '--config', config, 'node', 'emulated', '--type', 'r5n.large', '--model', 'rm2', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((done) => child.once('exit', done));
      const url = new URL((JSON.parse(await new Promise<string>((r) => createInterface({ input: child.stdout! }).once('line', r))) as { listening: string }).listening);
      // Headers promising 100 bytes of body, then 6 of them: the request never completes.
      const sock = connect(Number(url.port), '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write('POST /v2/models/rm2/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"para');
      await new Promise((r) => setTimeout(r, 100));
      const t0 = Date.now();
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(Date.now() - t0 < 10_000, `exited after ${Date.now() - t0} ms`);
      sock.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help names the node: field each flag defaults to, since --config sets them', () => {
    const flags = {
      edge: { '--host': 'node.host', '--policy': 'node.edge.policy', '--percentile': 'node.edge.percentile', '--confidence': 'node.edge.confidence', '--max-batch': 'node.edge.maxBatch', '--max-rows': 'node.edge.maxRows', '--warmup-runs': 'node.edge.warmupRuns' },
      emulated: { '--host': 'node.host', '--slots': 'node.emulated.slots', '--seed': 'node.emulated.seed' },
    };
    for (const [kind, fields] of Object.entries(flags)) {
      const r = runCli(['node', kind, '--help']);
      assert.equal(r.code, 0, r.stderr);
      // One entry per flag, its wrapped lines joined.
      const entries = r.stdout.split(/\n(?= {2}-)/).map((e) => e.replace(/\s+/g, ' '));
      for (const [flag, field] of Object.entries(fields)) {
        const entry = entries.find((e) => e.trimStart().startsWith(`${flag} `));
        assert.ok(entry?.includes(`(default: ${field}`), `node ${kind} ${flag}: ${entry}`);
      }
    }
  });

  it('edge: a model folder that does not exist is a one-line user error (exit 2)', () => {
    const r = runCli(['node', 'edge', '--model', 'no/such/model', '--port', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mixscale: .*no\/such\/model: model folder not found/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('emulated: --seed takes an integer ≥ 0, as node.emulated.seed does, and names a bad one', () => {
    for (const bad of ['-1', '1.5', 'x']) {
      const r = runCli(['node', 'emulated', '--type', 'r5n.large', '--model', 'rm2', '--seed', bad]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`--seed: expected an integer ≥ 0, got "${bad.replace('.', '\\.')}"`));
    }
  });

  it('caps what would exhaust memory or never start, as the config does: --seed, --slots, --max-batch, --max-rows', () => {
    for (const [args, message] of [
      [['node', 'emulated', '--type', 'r5n.large', '--model', 'rm2', '--seed', '1e300'], '--seed: expected an integer ≥ 0 up to 9007199254740991, got "1e300"'],
      [['node', 'emulated', '--type', 'r5n.large', '--model', 'rm2', '--slots', '20000'], '--slots: expected a positive integer up to 10000, got "20000"'],
      [['node', 'edge', '--port', '0', '--max-batch', '1e9'], '--max-batch: expected a positive integer up to 1024, got "1e9"'],
      [['node', 'edge', '--port', '0', '--max-rows', '1000000000'], '--max-rows: expected a positive integer up to 100000, got "1000000000"'],
      // An empty address listens on every interface, not the documented loopback.
      [['node', 'emulated', '--type', 'r5n.large', '--model', 'rm2', '--host', ''], '--host: expected an address to listen on (127.0.0.1, or 0.0.0.0 for every interface), got ""'],
    ] as const) {
      const r = runCli(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `mixscale: ${message}\n`);
    }
  });

  it('emulated: an unprofiled type is a one-line user error naming what is profiled', () => {
    const r = runCli(['node', 'emulated', '--type', 'p4d.24xlarge', '--model', 'rm2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no service-time profile for instance type "p4d\.24xlarge" \(profiled types: .*g4dn\.xlarge/);
  });
});
