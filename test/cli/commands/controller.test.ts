import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tickLine } from '../../../src/cli/commands/controller.ts';
import type { TickRecord } from '../../../src/control/loop.ts';
import { summarizeTick } from '../../../src/control/status.ts';
import { LatencyHistogram } from '../../../src/core/histogram.ts';
import type { Instance } from '../../../src/core/types.ts';
import { REPO_ROOT } from '../../support/cli.ts';

const BIN = join(REPO_ROOT, 'bin', 'mixscale.js');
const TINY_NODE = fileURLToPath(new URL('../../cloud/support/tiny-node.ts', import.meta.url));
const TOKEN = 'controller-test-token-0123456789';

/** Runs the CLI without blocking the event loop, so the in-process fake router can answer. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, MIXSCALE_ADMIN_TOKEN: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The router at the network edge: a snapshot of 30 rps, and an admin API that records calls. */
function fakeRouter(rps = 30): Promise<{ server: Server; url: string; calls: string[] }> {
  const calls: string[] = [];
  const latency = new LatencyHistogram();
  latency.recordMany(120, 100);
  const snapshot = {
    atMs: Date.now(),
    windowMs: 30_000,
    classes: [{ name: 'rm2', model: 'rm2', arrivals: 30 * rps, rps, completed: 30 * rps, rejected: 0, sizes: rps > 0 ? [[200, 30 * rps]] : [], latency: latency.encode() }],
    pools: [],
  };
  const server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    if (req.url === '/v1/snapshot') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(snapshot));
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`, calls });
    });
  });
}

function writeConfig(dir: string, routerUrl: string | undefined, extra: readonly string[] = [], command: readonly string[] = [process.execPath, '--import', 'tsx', TINY_NODE]): string {
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    [
      'budget: { usdPerHour: 1.0 }',
      'classes: [{ name: rm2, model: rm2, slo: 350ms }]',
      'pools: [{ name: r5n, type: r5n.large, minCount: 2 }]',
      'scaling: { policy: static-mix, options: { mix: { r5n.large: 3 } } }',
      'controller:',
      '  provider: local',
      '  cluster: clitest',
      ...(routerUrl !== undefined ? [`  routerUrl: ${routerUrl}`] : []),
      `  local: { command: ${JSON.stringify(command)} }`,
      ...extra,
    ].join('\n'),
  );
  return path;
}

describe('mixscale controller', function () {
  this.timeout(60_000);
  let dir: string;
  let router: Awaited<ReturnType<typeof fakeRouter>>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-ctl-'));
    router = await fakeRouter();
  });
  afterEach(async () => {
    await new Promise((r) => router.server.close(r));
    const state = join(dir, '.mixscale', 'local-clitest.json');
    if (existsSync(state)) {
      for (const i of (JSON.parse(readFileSync(state, 'utf8')) as { instances: { pid: number }[] }).instances) {
        try {
          process.kill(i.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run --once observes and plans for real, prints what it would do, and changes nothing', async () => {
    const config = writeConfig(dir, router.url);
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--dry-run', '--once']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /tick 1 ok .*would launch 3×r5n\.large/);
    assert.ok(router.calls.includes('GET /v1/snapshot'));
    assert.ok(!existsSync(join(dir, '.mixscale', 'local-clitest.json')), 'no process was started');
    assert.ok(!existsSync(join(dir, '.mixscale', 'controller-clitest.json')), 'a dry run leaves no status');
  });

  it('--dry-run --once --json rounds its floats: a p99 predicted at no load reads 0, not float noise', async () => {
    const idle = await fakeRouter(0);
    try {
      const config = writeConfig(dir, idle.url);
      writeFileSync(config, readFileSync(config, 'utf8').replace(/^scaling: .*$/m, 'scaling: { policy: fast-frugal }'));
      const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--dry-run', '--once', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const tick = JSON.parse(r.stdout) as { predictedP99Ms: Record<string, number>; plannedSpendUsdPerHour: number };
      const p99 = tick.predictedP99Ms.rm2;
      assert.ok(p99 === 0 || (p99 !== undefined && p99 >= 1e-6), r.stdout);
      for (const f of r.stdout.match(/-?\d+\.\d+(e[+-]?\d+)?/g) ?? []) assert.match(f, /^-?\d+\.\d{1,6}$/, r.stdout);
    } finally {
      await new Promise((done) => idle.server.close(done));
    }
  });

  it('--once launches, status shows the fleet, spend against budget and the decision, and down tears it down', async () => {
    const config = writeConfig(dir, router.url);
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /launch 3×r5n\.large/);
    const s = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /r5n\.large/);
    assert.match(s.stdout, /spend \$0\.\d\d\/h of budget \$1\.00\/h/);
    assert.match(s.stdout, /launch 3×r5n\.large/);
    const j = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status', '--json']);
    const parsed = JSON.parse(j.stdout) as { fleet: unknown[]; budgetUsdPerHour: number };
    assert.equal(parsed.fleet.length, 3);
    assert.equal(parsed.budgetUsdPerHour, 1);
    const down = await cli(['--config', config, '--log-level', 'silent', 'controller', 'down'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /terminated 3/);
    assert.equal(router.calls.filter((c) => c.startsWith('DELETE /v1/backends/')).length, 3, 'deregistered from the router first');
    const state = JSON.parse(readFileSync(join(dir, '.mixscale', 'local-clitest.json'), 'utf8')) as { instances: unknown[] };
    assert.deepEqual(state.instances, []);
  });

  it('down --dry-run lists the fleet and terminates nothing; a loop-only flag after down or status is refused', async () => {
    const config = writeConfig(dir, router.url);
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.stderr);
    const dry = await cli(['--config', config, '--log-level', 'silent', 'controller', 'down', '--dry-run'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would terminate 3/);
    const state = JSON.parse(readFileSync(join(dir, '.mixscale', 'local-clitest.json'), 'utf8')) as { instances: Array<{ pid: number }> };
    assert.equal(state.instances.length, 3);
    for (const i of state.instances) process.kill(i.pid, 0); // still running
    assert.ok(!router.calls.some((c) => c.startsWith('DELETE')), 'nothing deregistered');
    for (const args of [['down', '--once'], ['status', '--dry-run']]) {
      const bad = await cli(['--config', config, '--log-level', 'silent', 'controller', ...args]);
      assert.equal(bad.code, 2, args.join(' '));
      assert.match(bad.stderr, new RegExp(`^mixscale: controller ${args[0]!}: ${args[1]!} is an option of the control loop, not of ${args[0]!}\n$`));
    }
  });

  it('a dry run and down go ahead with a short admin token (down terminates, only without telling the router)', async () => {
    const config = writeConfig(dir, router.url);
    const dry = await cli(['--config', config, '--log-level', 'silent', 'controller', '--dry-run', '--once'], { MIXSCALE_ADMIN_TOKEN: 'short' });
    assert.equal(dry.code, 0, dry.stderr);
    const up = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(up.code, 0, up.stderr);
    const down = await cli(['--config', config, '--log-level', 'silent', 'controller', 'down'], { MIXSCALE_ADMIN_TOKEN: 'short' });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /terminated 3/);
    const state = JSON.parse(readFileSync(join(dir, '.mixscale', 'local-clitest.json'), 'utf8')) as { instances: unknown[] };
    assert.deepEqual(state.instances, []);
  });

  it('down refuses while the cluster’s controller runs (it would launch again), naming its pid, unless --force', async () => {
    const config = writeConfig(dir, router.url);
    // Stands for a running `mixscale controller` whose status file names it.
    const controller = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'controller'], { stdio: 'ignore' });
    try {
      mkdirSync(join(dir, '.mixscale'), { recursive: true });
      writeFileSync(join(dir, '.mixscale', 'controller-clitest.json'), JSON.stringify({ cluster: 'clitest', provider: 'local', pid: controller.pid, updatedAtMs: Date.now(), ticks: [] }));
      const refused = await cli(['--config', config, '--log-level', 'silent', 'controller', 'down'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, new RegExp(`^mixscale: controller down: the controller of cluster "clitest" is running as pid ${controller.pid} .*stop it first.*--force\n$`));
      const forced = await cli(['--config', config, '--log-level', 'silent', 'controller', 'down', '--force'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /nothing to terminate/);
    } finally {
      controller.kill();
    }
    await new Promise((r) => controller.once('exit', r));
    const stopped = await cli(['--config', config, '--log-level', 'silent', 'controller', 'down'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(stopped.code, 0, 'a status file whose controller is gone does not block');
  });

  it('one controller per cluster: a second one (loop or --once) refuses while the first runs, a dry run may run beside it, and a stale lock is taken over', async () => {
    const config = writeConfig(dir, router.url, ['  schedule: "0 0 0 1 1 *"']);
    const first = spawn(process.execPath, [BIN, '--config', config, '--log-level', 'silent', 'controller'], { cwd: REPO_ROOT, env: { ...process.env, MIXSCALE_ADMIN_TOKEN: TOKEN } });
    const lock = join(dir, '.mixscale', 'controller-clitest.lock');
    try {
      for (let i = 0; i < 300 && !existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(readFileSync(lock, 'utf8').trim(), String(first.pid));
      for (const extra of [[], ['--once']]) {
        const second = await cli(['--config', config, '--log-level', 'silent', 'controller', ...extra], { MIXSCALE_ADMIN_TOKEN: TOKEN });
        assert.equal(second.code, 1, extra.join(' '));
        assert.equal(second.stderr, `mixscale: controller: the controller of cluster "clitest" is already running as pid ${first.pid} (${lock}); one controller per cluster\n`);
      }
      const dry = await cli(['--config', config, '--log-level', 'silent', 'controller', '--dry-run', '--once']);
      assert.equal(dry.code, 0, dry.stderr);
    } finally {
      first.kill('SIGTERM');
      await new Promise((r) => first.once('exit', r));
    }
    assert.ok(!existsSync(lock), 'released on exit');
    // A lock left by a controller that is gone (killed -9) does not hold the cluster.
    writeFileSync(lock, '999999\n');
    const next = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(next.code, 0, next.stderr);
    assert.ok(!existsSync(lock));
  });

  it('a stale lock is taken over by exactly one of several controllers started at once', async () => {
    const config = writeConfig(dir, router.url, ['  schedule: "0 0 0 1 1 *"']);
    const lock = join(dir, '.mixscale', 'controller-clitest.lock');
    mkdirSync(join(dir, '.mixscale'), { recursive: true });
    writeFileSync(lock, '999999\n');
    const starters = [0, 1, 2].map(() => spawn(process.execPath, [BIN, '--config', config, '--log-level', 'silent', 'controller'], { cwd: REPO_ROOT, env: { ...process.env, MIXSCALE_ADMIN_TOKEN: TOKEN } }));
    const exits = starters.map((c) => new Promise<number | null>((r) => c.once('exit', r)));
    try {
      // The losers exit at once (code 1); the winner runs until stopped.
      const deadline = Date.now() + 30_000;
      let exited: Array<number | null> = [];
      while (Date.now() < deadline) {
        exited = starters.map((c) => c.exitCode);
        if (exited.filter((c) => c !== null).length === 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(exited.filter((c) => c !== null), [1, 1], `exit codes ${JSON.stringify(exited)}`);
      const winner = starters.find((c) => c.exitCode === null)!;
      assert.equal(readFileSync(lock, 'utf8').trim(), String(winner.pid));
    } finally {
      for (const c of starters) c.kill('SIGTERM');
      await Promise.all(exits);
    }
  });

  it('does not run unlocked while another starter holds the takeover of a stale lock', async () => {
    const config = writeConfig(dir, router.url);
    const lock = join(dir, '.mixscale', 'controller-clitest.lock');
    mkdirSync(`${lock}.takeover`, { recursive: true });
    writeFileSync(lock, '999999\n');
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^mixscale: controller: another controller of cluster "clitest" is taking over its stale lock/);
    assert.equal(readFileSync(lock, 'utf8').trim(), '999999', 'the lock was left alone');
  });

  it('runs without the lock, saying so, where controller.stateDir cannot be written', async () => {
    writeFileSync(join(dir, 'afile'), 'not a folder');
    const config = writeConfig(dir, router.url, ['  stateDir: afile/state']);
    const r = await cli(['--config', config, '--log-level', 'warn', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.match(r.stderr, /cannot take the cluster's lock/);
    assert.match(r.stdout, /tick 1/);
  });

  it('ticks on its schedule, serves Prometheus metrics, and stops cleanly on SIGTERM', async () => {
    const config = writeConfig(dir, router.url, ["  schedule: '* * * * * *'", '  metrics: { port: 0 }']);
    const child = spawn(process.execPath, [BIN, '--config', config, '--log-level', 'info', 'controller', '--dry-run'], { cwd: REPO_ROOT, env: { ...process.env, MIXSCALE_ADMIN_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | null>((r) => child.on('close', r));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if ((stdout.match(/^tick \d+ ok/gm) ?? []).length >= 2) resolve();
      });
    });
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+\/metrics)"/.exec(stderr)?.[1];
    assert.ok(url !== undefined, 'the metrics URL is logged');
    const res = await fetch(url);
    const text = await res.text();
    assert.match(text, /mixscale_controller_ticks_total\{status="ok"\} [1-9]/);
    assert.match(text, /mixscale_controller_observed_rps\{class="rm2"\} 30/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.ok(router.calls.filter((c) => c === 'GET /v1/snapshot').length >= 2);
  });

  it('status names a status file that is not what a controller writes, in one line (exit 2)', async () => {
    const config = writeConfig(dir, router.url);
    mkdirSync(join(dir, '.mixscale'), { recursive: true });
    const file = join(dir, '.mixscale', 'controller-clitest.json');
    writeFileSync(file, JSON.stringify({ cluster: 'clitest', provider: 'local', pid: 1, updatedAtMs: 0, ticks: 5 }));
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `mixscale: controller status ${file}: ticks: expected array, received number; move it away (the controller writes a new one)\n`);
  });

  it('status says whether the recorded controller runs, and marks where a new controller run starts', async () => {
    const config = writeConfig(dir, router.url);
    mkdirSync(join(dir, '.mixscale'), { recursive: true });
    const tick = (seq: number, atMs: number) => ({ seq, atMs, status: 'ok', budgetUsdPerHour: 1, mix: { 'r5n.large': 3 }, actions: [], failures: [], dryRun: false });
    const write = (pid: number) =>
      writeFileSync(join(dir, '.mixscale', 'controller-clitest.json'), JSON.stringify({ cluster: 'clitest', provider: 'local', pid, updatedAtMs: 0, ticks: [tick(7, 0), tick(8, 1), tick(1, 2), tick(2, 3)] }));
    write(2 ** 31 - 2);
    const gone = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status']);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, /controller pid 2147483646 \(not running\)/);
    assert.match(gone.stdout, /#8 ok .*\n  -- a new controller run starts here --\n.*#1 ok /);
    assert.equal(gone.stdout.match(/new controller run/g)?.length, 1);
    // A live process whose command line reads "controller", as a controller's does.
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'controller']);
    try {
      write(live.pid!);
      const up = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status', '--json']);
      assert.equal((JSON.parse(up.stdout) as { controllerRunning: boolean }).controllerRunning, true);
      const text = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status']);
      assert.match(text.stdout, new RegExp(`controller pid ${live.pid} \\(running\\)`));
    } finally {
      live.kill();
    }
  });

  it('status exits 1 when the fleet cannot be listed, still printing what it could', async () => {
    const config = writeConfig(dir, router.url);
    // The local provider's state file cannot be read: listing throws.
    const state = join(dir, '.mixscale', 'local-clitest.json');
    mkdirSync(state, { recursive: true });
    try {
      const r = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^cluster clitest on local\nfleet: cannot list \(cannot read local state .*\)/);
      assert.match(r.stdout, /no decisions recorded yet/);
      assert.match(r.stderr, /^mixscale: controller status: cannot list the fleet: cannot read local state [^\n]*\n$/);
      const j = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status', '--json']);
      assert.equal(j.code, 1);
      assert.match((JSON.parse(j.stdout) as { fleetError: string }).fleetError, /cannot read local state/);
    } finally {
      rmSync(state, { recursive: true });
    }
  });

  it('status names a config the AWS provider refuses (exit 2), not as a fleet it cannot list (exit 1)', async () => {
    const aws = readFileSync(join(REPO_ROOT, 'infra', 'examples', 'aws.yaml'), 'utf8').replace(/\n\s*launchTemplate: [^\n]*/, '');
    const config = join(dir, 'aws.yaml');
    writeFileSync(config, aws);
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', 'status', '--endpoint-url', 'http://127.0.0.1:9']);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^mixscale: .*aws\.yaml: pools\[0\]\.launchTemplate: pool "gpu" needs a launch template with controller\.provider aws/);
  });

  it('status --json names a directory or a missing folder in one line', async () => {
    const config = writeConfig(dir, router.url);
    const isDir = await cli(['--config', config, 'controller', 'status', '--json', dir]);
    assert.equal(isDir.code, 2);
    assert.equal(isDir.stderr, `mixscale: --json: cannot write ${dir}: is a directory\n`);
    const missing = await cli(['--config', config, '--json', join(dir, 'nope', 's.json'), 'controller', 'status']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, `mixscale: --json: cannot write ${join(dir, 'nope', 's.json')}: folder ${join(dir, 'nope')} does not exist\n`);
  });

  it('--once exits 1 when the tick held the fleet because the observation failed', async () => {
    // A router that is gone: the snapshot cannot be fetched.
    const gone = await fakeRouter();
    await new Promise((r) => gone.server.close(r));
    const config = writeConfig(dir, gone.url);
    const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--dry-run', '--once']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^tick 1 held .*ECONNREFUSED/);
    assert.match(r.stderr, /^mixscale: tick held the fleet: observing the load failed: .*ECONNREFUSED.*\n$/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('--once exits 1 naming the first failed action when the tick could not do all it planned (the router refuses its token)', async () => {
    const config = writeConfig(dir, router.url);
    const up = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(up.code, 0, up.stderr);
    // The next tick registers the nodes that now run, with a token the router does not take.
    let r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: 'another-token-the-router-refuses-0' });
    for (let k = 0; k < 20 && r.code === 0 && !/register/.test(r.stdout); k++) {
      await new Promise((done) => setTimeout(done, 250));
      r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: 'another-token-the-router-refuses-0' });
    }
    assert.equal(r.code, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^tick \d+ ok .*register/);
    assert.match(r.stderr, /^mixscale: tick acted only in part: 3 actions failed; first: register: router admin API POST \S+ answered 401\n$/);
  });

  it('rejects an --endpoint-url that is not an http(s) URL before doing anything', async () => {
    const config = writeConfig(dir, router.url);
    for (const [url, why] of [['notaurl', 'is not a URL'], ['ftp://example.com', 'must be an http(s) URL']] as const) {
      const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--dry-run', '--once', '--endpoint-url', url]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.startsWith(`mixscale: --endpoint-url: "${url}" ${why}`), r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    assert.deepEqual(router.calls, [], 'nothing was observed');
  });

  it('says in one line that a router URL is needed', async () => {
    const config = writeConfig(dir, undefined);
    const r = await cli(['--config', config, 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /controller\.routerUrl is required/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('says in one line that the admin token is needed outside a dry run (a blank one is none), and refuses a short one as the router does', async () => {
    const config = writeConfig(dir, router.url);
    for (const blank of ['', '   ']) {
      const r = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: blank });
      assert.equal(r.code, 2);
      assert.match(r.stderr, /admin token is needed/);
    }
    const short = await cli(['--config', config, '--log-level', 'silent', 'controller', '--once'], { MIXSCALE_ADMIN_TOKEN: 'short' });
    assert.equal(short.code, 2, short.stderr);
    assert.match(short.stderr, /MIXSCALE_ADMIN_TOKEN: must be at least 16 characters/);
  });
});

describe('controller tick line', () => {
  const node = (id: string, type: string, state: Instance['state']): Instance => ({ id, type, pool: type, state, launchedAtMs: 0, usdPerHour: 0.2 });
  const tick = (mix: Record<string, number>, target: Record<string, number> | undefined, fleet: Instance[]): TickRecord => ({
    seq: 9,
    atMs: 0,
    durationMs: 1,
    status: 'ok',
    budgetUsdPerHour: 1.5,
    decision: { mix, reason: 'r', policy: 'fast-frugal', ...(target !== undefined ? { movingTo: target } : {}) },
    reconcile: { atMs: 0, dryRun: false, target: mix, actions: [], failures: [], capacityErrors: [], spendUsdPerHour: 1, plannedSpendUsdPerHour: 1, waiting: 0, budgetUsdPerHour: 1.5, fleet },
    unavailable: [],
  });

  it('shows the mix the fleet is moving to, and the interim step while instances drain, in the line and in --json', () => {
    const fleet = [node('a', 'r5n.large', 'running'), node('x', 'g4dn.xlarge', 'draining')];
    const r = tick({ 'r5n.large': 3 }, { 'r5n.large': 6 }, fleet);
    assert.match(tickLine(r), /  mix 6×r5n\.large \(now 3×r5n\.large while 1 drains\)(  |$)/);
    const json = summarizeTick(r);
    assert.deepEqual([json.mix, json.movingTo], [{ 'r5n.large': 3 }, { 'r5n.large': 6 }]);
  });

  it('shows the decided mix alone when it is the target', () => {
    const r = tick({ 'r5n.large': 6 }, { 'r5n.large': 6 }, [node('x', 'g4dn.xlarge', 'draining')]);
    assert.match(tickLine(r), /  mix 6×r5n\.large$/);
    assert.equal(summarizeTick(r).movingTo, undefined);
    assert.match(tickLine(tick({ 'r5n.large': 6 }, undefined, [])), /  mix 6×r5n\.large$/);
  });
});
