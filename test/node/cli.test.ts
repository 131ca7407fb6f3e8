import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
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
