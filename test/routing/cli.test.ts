import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { runCli } from '../support/cli.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));

function config(backendUrl: string): string {
  return `budget: { usdPerHour: 5 }
classes:
  - { name: interactive, model: rm2, slo: 300ms }
pools:
  - { name: gpu, type: g4dn.xlarge }
routing: { policy: least-outstanding }
router:
  adminToken: cli-test-token-0123456789
  backends:
    - { id: a, url: "${backendUrl}", type: g4dn.xlarge }
`;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`router exited with ${code} before listening`)));
  });
}

describe('mixscale router (CLI)', () => {
  let dir: string;
  let backend: FakeBackend;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-router-'));
    backend = await new FakeBackend('a').start();
  });

  afterEach(async () => {
    await backend.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves from a config file and, on SIGTERM, finishes in-flight requests and exits 0', async () => {
    const file = join(dir, 'router.yaml');
    writeFileSync(file, config(backend.url));
    const child = spawn(process.execPath, [BIN, '--log-level', 'silent', '--config', file, 'router', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const { listening } = JSON.parse(await firstLine(child)) as { listening: string };
      assert.match(listening, /^http:\/\/127\.0\.0\.1:\d+$/);
      backend.behaviour.delayMs = 300;
      const inflight = request(`${listening}/v2/models/rm2/infer`, { method: 'POST', body: inferBody(2), headers: { 'content-type': 'application/json' } });
      while (backend.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGTERM');
      const res = await inflight;
      assert.equal(res.statusCode, 200);
      assert.equal(((await res.body.json()) as { id: string }).id, 'a');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('runs another policy given with --policy on its defaults: routing.options belong to routing.policy', async () => {
    const file = join(dir, 'router.yaml');
    writeFileSync(file, config(backend.url).replace('routing: { policy: least-outstanding }', 'routing: { policy: heterogeneity-aware, options: { rejectLate: false } }'));
    const child = spawn(process.execPath, [BIN, '--log-level', 'silent', '--config', file, 'router', '--port', '0', '--policy', 'least-outstanding'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const { listening } = JSON.parse(await firstLine(child)) as { listening: string };
      const res = await request(`${listening}/v2/models/rm2/infer`, { method: 'POST', body: inferBody(2), headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 200);
      await res.body.dump();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits 2 with one line naming the field for a bad router config', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, config(backend.url).replace('adminToken: cli-test-token-0123456789', 'adminToken: short'));
    const r = runCli(['--config', file, 'router']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /router\.adminToken: must be at least 16 characters/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('exits 2 for an unknown routing policy, listing the known ones', () => {
    const file = join(dir, 'router.yaml');
    writeFileSync(file, config(backend.url));
    const r = runCli(['--config', file, 'router', '--policy', 'fastest-first']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown routing policy "fastest-first"; available: .*least-outstanding/);
  });
});
