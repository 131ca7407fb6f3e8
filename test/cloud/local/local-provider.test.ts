import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { Catalog } from '../../../src/catalog/catalog.ts';
import { LocalProvider, type LocalProviderOptions } from '../../../src/cloud/local/local-provider.ts';
import { readState } from '../../../src/cloud/local/state-file.ts';
import { RealClock } from '../../../src/core/clock.ts';
import { isMixscaleError } from '../../../src/core/errors.ts';
import type { Logger } from '../../../src/core/log.ts';
import { Reconciler } from '../../../src/control/reconciler.ts';
import { FakeMembership } from '../../support/fake-cloud.ts';

const catalog = Catalog.load();
const TINY_NODE = fileURLToPath(new URL('../support/tiny-node.ts', import.meta.url));

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('LocalProvider', function () {
  this.timeout(60_000);
  let dir: string;
  let providers: LocalProvider[];
  const make = (extra: Partial<LocalProviderOptions> = {}) => {
    const p = new LocalProvider({
      cluster: 'test',
      stateFile: join(dir, 'state.json'),
      clock: new RealClock(),
      priceOf: (t) => catalog.price(t),
      model: 'rm2',
      command: [process.execPath, '--import', 'tsx', TINY_NODE],
      ...extra,
    });
    providers.push(p);
    return p;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-local-'));
    providers = [];
  });
  afterEach(async () => {
    const p = providers[0];
    if (p !== undefined) {
      const left = await p.list().catch(() => []);
      if (left.length > 0) await p.terminate(left.map((i) => i.id));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs each instance as a process serving on 127.0.0.1', async () => {
    const p = make();
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't1' });
    const [i] = await until(() => p.list(), (l) => l[0]?.state === 'running');
    assert.match(i!.address ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(`${i!.address}/v2/health/ready`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
  });

  it('fails a launch whose command cannot start with a clear error, and the controller process lives on', async () => {
    const p = make({ command: ['mixscale-no-such-command-on-path'] });
    await assert.rejects(p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 'bad' }), /cannot start mixscale-no-such-command-on-path: not found or not executable/);
    // The spawn's 'error' event comes after launch() returns; unheard, it would end this process.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await p.list(), []);
  });

  it('keeps an instance pending for the boot delay', async () => {
    const p = make({ bootDelayMs: 60_000 });
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't2' });
    await until(() => p.list(), (l) => l[0]?.address !== undefined);
    assert.equal((await p.list())[0]?.state, 'pending');
  });

  it('lets a restarted controller adopt the running processes from the state file', async () => {
    const first = make();
    const launched = await first.launch({ type: 'r5n.large', pool: 'r5n', count: 2, clientToken: 't3' });
    await until(() => first.list(), (l) => l.every((i) => i.state === 'running'));
    const second = make();
    const adopted = await second.list();
    assert.deepEqual(adopted.map((i) => i.id).sort(), launched.map((i) => i.id).sort());
    assert.ok(adopted.every((i) => i.state === 'running'));
    const again = await second.launch({ type: 'r5n.large', pool: 'r5n', count: 2, clientToken: 't3' });
    assert.deepEqual(again.map((i) => i.id).sort(), launched.map((i) => i.id).sort(), 'the same token launches nothing new');
  });

  it('records each node in the state file as soon as it is spawned, so a launch cut short leaves none orphaned', async () => {
    const stateFile = join(dir, 'state.json');
    const seen: string[][] = [];
    // Stands for a controller killed right after its first spawn of three: the launch goes no further.
    const dying = {
      info(o: { id?: string }, msg?: string) {
        if (msg !== 'launched local node') return;
        seen.push(readState(stateFile, 'test').instances.map((r) => r.id));
        throw new Error('killed');
      },
      warn() {},
      error() {},
      debug() {},
      isLevelEnabled: () => true,
    } as unknown as Logger;
    await assert.rejects(make({ logger: dying }).launch({ type: 'r5n.large', pool: 'r5n', count: 3, clientToken: 't8' }), /killed/);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.length, 1, 'the first node was on disk before anything else happened');
    const restarted = make();
    const adopted = await restarted.list();
    assert.deepEqual(adopted.map((i) => i.id), seen[0]);
    const again = await restarted.launch({ type: 'r5n.large', pool: 'r5n', count: 3, clientToken: 't8' });
    assert.deepEqual(again.map((i) => i.id), seen[0], 'the same token returns what it started, nothing new');
  });

  /** Processes (Linux) that carry a node's instance id: what must be gone after terminate. */
  const processesOf = (id: string): string[] =>
    readdirSync('/proc').filter((pid) => {
      try {
        return /^\d+$/.test(pid) && readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(`MIXSCALE_INSTANCE_ID=${id}`);
      } catch {
        return false;
      }
    });

  it('terminates the whole process group of a node started through a wrapper, listing it as shutting down until it exits', async function () {
    if (process.platform !== 'linux') this.skip();
    const p = make({ command: ['sh', '-c', `"${process.execPath}" --import tsx "${TINY_NODE}"; echo exited`] });
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't9' });
    const [i] = await until(() => p.list(), (l) => l[0]?.state === 'running');
    assert.equal(processesOf(i!.id).length, 2, 'the shell and the node');
    await p.terminate([i!.id]);
    const right = await p.list();
    assert.ok(right.every((x) => x.state === 'shutting-down'), 'not forgotten while it runs');
    assert.deepEqual(await until(() => p.list(), (l) => l.length === 0), []);
    assert.deepEqual(processesOf(i!.id), [], 'the node under the shell is gone too');
    await assert.rejects(request(`${i!.address}/v2/health/ready`));
  });

  it('sends SIGKILL to a node that outlives the grace period after SIGTERM', async function () {
    if (process.platform !== 'linux') this.skip();
    const stubborn = `process.on('SIGTERM', () => {}); console.log(JSON.stringify({ listening: 'http://127.0.0.1:9' })); setInterval(() => {}, 1000);`;
    const p = make({ command: [process.execPath, '-e', stubborn], terminateGraceMs: 300 });
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't10' });
    const [i] = await until(() => p.list(), (l) => l[0]?.state === 'running');
    await p.terminate([i!.id]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(processesOf(i!.id).length, 1, 'it ignored SIGTERM');
    assert.deepEqual((await p.list()).map((x) => x.state), ['shutting-down']);
    assert.deepEqual(await until(() => p.list(), (l) => l.length === 0), []);
    assert.deepEqual(processesOf(i!.id), []);
  });

  it('forgets an instance whose process died', async () => {
    const p = make();
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 2, clientToken: 't4' });
    await until(() => p.list(), (l) => l.every((i) => i.state === 'running'));
    const state = (await import('../../../src/cloud/local/state-file.ts')).readState(join(dir, 'state.json'), 'test');
    process.kill(state.instances[0]!.pid, 'SIGKILL');
    const left = await until(() => p.list(), (l) => l.length === 1);
    assert.deepEqual(left.map((i) => i.id), [state.instances[1]!.id]);
  });

  it('says why an instance died: the end of its stderr, and where the whole of it is', async () => {
    const warned: Array<{ obj: Record<string, unknown>; msg: string }> = [];
    const logger = { info: () => {}, debug: () => {}, error: () => {}, warn: (obj: Record<string, unknown>, msg: string) => void warned.push({ obj, msg }) } as unknown as Logger;
    const p = make({ logger, command: [process.execPath, '-e', 'console.error("error: unknown option \'--bogus\'"); process.exit(2)'] });
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't9' });
    await until(() => p.list(), (l) => l.length === 0);
    const died = warned.find((w) => w.msg === 'local instance died');
    assert.ok(died !== undefined, JSON.stringify(warned));
    assert.equal(died.obj['stderr'], "error: unknown option '--bogus'");
    assert.match(String(died.obj['log']), /\.err$/);
    assert.equal(readFileSync(String(died.obj['log']), 'utf8').trim(), "error: unknown option '--bogus'");
  });

  it('describes a node whose command exits at once as terminated, so the reconciler forgets it at the next tick instead of holding it for the launch timeout', async () => {
    const p = make({ command: [process.execPath, '-e', 'process.exit(3)'] });
    const clock = new RealClock();
    const rec = new Reconciler({ provider: p, membership: new FakeMembership(), clock, priceOf: (t) => catalog.price(t), poolOf: () => 'r5n', launchTimeoutMs: 600_000, drainTimeoutMs: 1_000, cluster: 'test' });
    const first = await rec.reconcile({ 'r5n.large': 1 }, 1);
    assert.deepEqual(first.actions.map((a) => a.kind), ['launch']);
    const [id] = readState(join(dir, 'state.json'), 'test').instances.map((r) => r.id);
    assert.ok(id !== undefined);
    await until(() => p.describe([id]), (d) => d[0]?.state === 'terminated');
    const second = await rec.reconcile({ 'r5n.large': 1 }, 1);
    assert.deepEqual(second.fleet, [], 'the dead launch no longer holds budget or its place in the target');
    assert.equal(second.spendUsdPerHour, 0);
    const failure = second.failures.find((f) => f.code === 'MIXSCALE_CLOUD_CAPACITY');
    assert.ok(failure !== undefined, JSON.stringify(second.failures));
    assert.match(failure.message, new RegExp(`^${id} \\(r5n\\.large\\) was terminated .* right after its launch; r5n\\.large cools down`));
    // Still described once list() has dropped it; an id it never launched is left out.
    assert.deepEqual((await p.describe([id, 'local-9999-ffffffff'])).map((i) => [i.id, i.state]), [[id, 'terminated']]);
  });

  it("keeps the logs of the newest 100 nodes that are gone, and every live node's, so they do not pile up over runs", async () => {
    const p = make();
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 'logs-1' });
    const logDir = join(dir, 'test-nodes');
    const live = readState(join(dir, 'state.json'), 'test').instances[0]!.id;
    for (let k = 0; k < 150; k++) {
      for (const ext of ['out', 'err']) {
        const f = join(logDir, `old-${k}.${ext}`);
        writeFileSync(f, 'x');
        utimesSync(f, 1_000_000 + k, 1_000_000 + k); // old-149 the newest
      }
    }
    utimesSync(join(logDir, `${live}.out`), 1, 1); // older than all of them: still kept
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 'logs-2' });
    const left = new Set(readdirSync(logDir));
    for (let k = 0; k < 150; k++) assert.equal(left.has(`old-${k}.out`) && left.has(`old-${k}.err`), k >= 50, `old-${k}`);
    assert.ok(left.has(`${live}.out`) && left.has(`${live}.err`));
  });

  it('never takes a reused pid for one of its nodes, nor signals it', async function () {
    if (process.platform !== 'linux') this.skip();
    // A state file whose pid now belongs to another process (here: this test runner).
    const record = { id: 'local-0001-00000000', type: 'r5n.large', pool: 'r5n', pid: process.pid, launchedAtMs: 0, stdoutPath: join(dir, 'x.out') };
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ cluster: 'test', instances: [record], tokens: [], nextSeq: 2 }));
    await make().terminate([record.id]);
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ cluster: 'test', instances: [record], tokens: [], nextSeq: 2 }));
    assert.deepEqual(await make().list(), []);
  });

  it('only looks when read-only: the state file stays the running controller’s', async () => {
    const p = make();
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't6' });
    const before = readFileSync(join(dir, 'state.json'), 'utf8');
    const looker = make({ readOnly: true });
    const [i] = await until(() => looker.list(), (l) => l[0]?.state === 'running');
    assert.equal(i?.state, 'running');
    assert.equal(readFileSync(join(dir, 'state.json'), 'utf8'), before);
  });

  it('lists an instance of a type the catalog no longer has, priced at 0, instead of failing', async () => {
    await make().launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't7' });
    const warnings: string[] = [];
    const logger = { info() {}, error() {}, debug() {}, isLevelEnabled: () => false, warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)) } as unknown as Logger;
    const later = make({ logger, priceOf: (t) => (t === 'r5n.large' ? catalog.price('zz9.large') : catalog.price(t)) });
    const [i] = await later.list();
    assert.equal(i?.type, 'r5n.large');
    assert.equal(i?.usdPerHour, 0);
    assert.ok(warnings.some((w) => /catalog lacks/.test(w)));
  });

  it('refuses a state file that belongs to another cluster', async () => {
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ cluster: 'other', instances: [], tokens: [], nextSeq: 1 }));
    await assert.rejects(make().list(), (e: unknown) => isMixscaleError(e) && /belongs to cluster "other"/.test(e.message));
  });

  it("starts a pool's nodes with its own command and model (pools[].command, pools[].models)", async () => {
    const p = make({
      poolCommand: (pool) => (pool === 'edge' ? [process.execPath, '--import', 'tsx', TINY_NODE, 'edge-node', '{model}', '{type}', '{pool}'] : undefined),
      poolModel: (pool) => (pool === 'edge' ? 'digits-cnn' : undefined),
    });
    await p.launch({ type: 't3.xlarge', pool: 'edge', count: 1, clientToken: 'e1' });
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 'r1' });
    const list = await until(() => p.list(), (l) => l.length === 2 && l.every((i) => i.state === 'running'));
    const argv = async (pool: string): Promise<unknown> => (await request(`${list.find((i) => i.pool === pool)!.address}/argv`)).body.json();
    assert.deepEqual(await argv('edge'), ['edge-node', 'digits-cnn', 't3.xlarge', 'edge']);
    assert.deepEqual(await argv('r5n'), [], 'the other pool keeps the provider-wide command');
  });

  it('runs the real `mixscale node emulated` by default, with its pool’s slots', async () => {
    const real = new LocalProvider({ cluster: 'test', stateFile: join(dir, 'state.json'), clock: new RealClock(), priceOf: (t) => catalog.price(t), model: 'rm2', slotsOf: (pool) => (pool === 'r5n' ? 3 : 1) });
    providers.push(real);
    await real.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 't5' });
    const [i] = await until(() => real.list(), (l) => l[0]?.state === 'running' || l.length === 0, 40_000);
    assert.equal(i?.state, 'running', 'the emulated node started and printed where it listens');
    const res = await request(`${i.address}/v2/health/ready`);
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    const meta = (await (await request(`${i.address}/v2/models/rm2`)).body.json()) as { parameters: { slots: number; instance_type: string } };
    assert.equal(meta.parameters.instance_type, 'r5n.large');
    assert.equal(meta.parameters.slots, 3);
  });

  it('runs this checkout\'s CLI for a command that starts with `mixscale`, which is not on PATH in a clone', async () => {
    const p = make({ command: ['mixscale', 'node', 'emulated', '--type', '{type}', '--model', '{model}', '--port', '0'] });
    await p.launch({ type: 'r5n.large', pool: 'r5n', count: 1, clientToken: 'm1' });
    const [i] = await until(() => p.list(), (l) => l[0]?.state === 'running' || l.length === 0, 40_000);
    assert.equal(i?.state, 'running');
    const meta = (await (await request(`${i.address}/v2/models/rm2`)).body.json()) as { parameters: { instance_type: string } };
    assert.equal(meta.parameters.instance_type, 'r5n.large');
  });
});
