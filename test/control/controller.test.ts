import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.ts';
import { SimClock } from '../../src/core/clock.ts';
import { silentLogger, type Logger } from '../../src/core/log.ts';
import { createController, createProvider } from '../../src/control/controller.ts';
import { readStatus } from '../../src/control/status.ts';
import type { MetricsSource } from '../../src/control/types.ts';
import { FakeEc2 } from '../cloud/support/fake-ec2.ts';
import { FakeMembership } from '../support/fake-cloud.ts';
import { REPO_ROOT } from '../support/cli.ts';

const loggerStub = { info() {}, error() {}, debug() {}, warn() {}, isLevelEnabled: () => false };

const load: MetricsSource = {
  observe: async (nowMs) => ({
    load: { atMs: nowMs, windowMs: 30_000, classes: [{ name: 'rm2', rps: 40, sizes: { sizes: Float64Array.of(200), weights: Float64Array.of(1) } }] },
    utilization: {},
  }),
};

/** The nodes' readiness as the tests set it (the real check GETs each instance's private address). */
let nodesReady = true;
const ready = async (): Promise<boolean> => nodesReady;

describe('createController (the controller command’s wiring) on the AWS example config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-controller-'));
    const text = readFileSync(join(REPO_ROOT, 'infra', 'examples', 'aws.yaml'), 'utf8').replace(/stateDir: .*/, 'stateDir: state');
    writeFileSync(join(dir, 'aws.yaml'), text);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function build(dryRun: boolean) {
    const clock = new SimClock(Date.parse('2026-01-07T12:00:00Z'));
    const ec2 = new FakeEc2(clock);
    const membership = new FakeMembership();
    const loaded = loadConfigFile(join(dir, 'aws.yaml'));
    const c = await createController({ readiness: ready, loaded, logger: silentLogger, clock, membership, metrics: load, ec2Client: ec2.client, dryRun });
    return { c, ec2, clock, loaded, membership };
  }

  it('a dry run observes and plans for real and calls nothing that changes EC2', async () => {
    const { c, ec2 } = await build(true);
    const rec = await c.tick();
    assert.equal(rec.status, 'ok');
    assert.ok(rec.reconcile!.actions.some((a) => a.kind === 'launch'));
    assert.equal(ec2.runInputs.length, 0);
    assert.ok(!existsSync(c.statusFile));
  });

  it('launches from each pool’s launch template, records status and exports Prometheus metrics', async () => {
    const { c, ec2, loaded } = await build(false);
    const rec = await c.tick();
    assert.equal(rec.status, 'ok');
    assert.ok(ec2.runInputs.length > 0);
    const templates = new Map(loaded.config.pools.map((p) => [p.type, p.launchTemplate]));
    for (const r of ec2.runInputs) assert.equal(r.LaunchTemplate?.LaunchTemplateName, templates.get(r.InstanceType!));
    const status = readStatus(c.statusFile)!;
    assert.equal(status.cluster, 'mixscale');
    assert.equal(status.ticks.at(-1)?.status, 'ok');
    const text = await c.prometheus.registry.metrics();
    assert.match(text, new RegExp(`mixscale_controller_budget_usd_per_hour ${rec.budgetUsdPerHour}`));
    assert.match(text, /mixscale_controller_ticks_total\{status="ok"\} 1/);
    assert.match(text, /mixscale_controller_actions_total\{kind="launch",outcome="ok"\}/);
    assert.match(text, /mixscale_controller_observed_rps\{class="rm2"\} 40/);
  });

  it('counts an instance EC2 runs as booting until its node answers ready: not registered, not yet the replacement a drain waits for', async () => {
    const { c, ec2, clock, membership, loaded } = await build(false);
    nodesReady = false;
    try {
      await c.tick();
      clock.advanceTo(clock.now() + 2 * 60_000); // EC2 has said running for a minute
      const booting = await c.tick();
      assert.ok([...ec2.instances.values()].some((i) => i.state === 'running' && i.tags.length > 1));
      assert.ok(booting.reconcile!.fleet.every((i) => i.state === 'pending'), 'listed as pending while the node loads');
      assert.equal(membership.registered.size, 0);
      // controller status and down list as EC2 says (they may run where the nodes cannot be reached).
      const asEc2Says = await (await createProvider(loaded, c.settings, { clock, logger: silentLogger, ec2Client: ec2.client, readiness: ready, readOnly: true })).list();
      assert.ok(asEc2Says.some((i) => i.state === 'running'));
      nodesReady = true;
      clock.advanceTo(clock.now() + 30_000);
      await c.tick();
      assert.ok(membership.registered.size > 0, 'registered once ready');
    } finally {
      nodesReady = true;
    }
  });

  it('keeps drains in progress in the status file and hands them to the next controller', async () => {
    const { c, loaded, clock, ec2 } = await build(false);
    await c.tick();
    const writeWith = (draining: Record<string, number>) => {
      const s = readStatus(c.statusFile)!;
      writeFileSync(c.statusFile, JSON.stringify({ ...s, draining }));
    };
    const id = [...ec2.instances.values()].find((i) => i.tags.length > 1)!.id;
    writeWith({ [id]: clock.now() });
    const membership = new FakeMembership();
    membership.inFlightById.set(id, 5);
    const next = await createController({ readiness: ready, loaded, logger: silentLogger, clock, membership, metrics: load, ec2Client: ec2.client });
    assert.deepEqual([...next.reconciler.draining().keys()], [id]);
    await next.tick();
    assert.ok(id in (readStatus(c.statusFile)!.draining ?? {}), 'still draining after the next tick');
    membership.inFlightById.set(id, 0);
    const done = await next.tick();
    assert.ok(done.reconcile!.actions.some((a) => a.kind === 'terminate' && a.id === id), 'the drain finished with a terminate');
  });

  it('keeps capacity cooldowns in the status file: the next controller (or --once) does not retry a type before its cooldown ends', async () => {
    const { c, loaded, clock, ec2 } = await build(false);
    for (const p of loaded.config.pools) ec2.noCapacity.add(p.type);
    const first = await c.tick();
    const cooldowns = readStatus(c.statusFile)!.cooldowns ?? {};
    // Every type the tick tried (both attempts: the replan's too) cools down.
    const cooled = Object.keys(cooldowns);
    assert.ok(first.unavailable.length > 0 && first.unavailable.every((t) => cooled.includes(t)));
    const until = Math.min(...Object.values(cooldowns));
    assert.equal(until, clock.now() + c.settings.capacityCooldown);
    const runs = ec2.runInputs.length;
    clock.advanceTo(clock.now() + 60_000);
    const next = await createController({ readiness: ready, loaded, logger: silentLogger, clock, membership: new FakeMembership(), metrics: load, ec2Client: ec2.client });
    const second = await next.tick();
    for (const t of cooled) assert.ok(second.unavailable.includes(t), `${t} still cooling down`);
    assert.ok(ec2.runInputs.slice(runs).every((r) => !cooled.includes(r.InstanceType!)), 'none tried again within the cooldown');
    clock.advanceTo(until + 1);
    for (const p of loaded.config.pools) ec2.noCapacity.delete(p.type);
    const before = ec2.runInputs.length;
    await (await createController({ readiness: ready, loaded, logger: silentLogger, clock, membership: new FakeMembership(), metrics: load, ec2Client: ec2.client })).tick();
    assert.ok(ec2.runInputs.slice(before).some((r) => cooled.includes(r.InstanceType!)), 'tried again once it ended');
  });

  it('starts afresh, with a warning, from a status file that is not what a controller writes', async () => {
    const { c } = await build(false);
    mkdirSync(dirname(c.statusFile), { recursive: true });
    for (const text of ['{}', 'null', '{"cluster":"mixscale","provider":"aws","pid":1,"updatedAtMs":0,"ticks":5}']) {
      writeFileSync(c.statusFile, text);
      const warnings: string[] = [];
      const logger = { ...loggerStub, warn: (o: { err?: string }, msg?: string) => void warnings.push(`${msg}: ${o.err}`) } as unknown as Logger;
      const clock = new SimClock(Date.parse('2026-01-07T12:00:00Z'));
      const next = await createController({ readiness: ready, loaded: loadConfigFile(join(dir, 'aws.yaml')), logger, clock, membership: new FakeMembership(), metrics: load, ec2Client: new FakeEc2(clock).client });
      assert.match(warnings.join('\n'), /ignoring an unreadable status file: controller status .*controller-mixscale\.json: /);
      assert.equal((await next.tick()).status, 'ok');
      assert.equal(readStatus(c.statusFile)!.ticks.length, 1, 'a fresh status file');
    }
  });

  it('smooths the observed load with the estimator when controller.estimator is set', async () => {
    const text = readFileSync(join(dir, 'aws.yaml'), 'utf8').replace('\ncontroller:\n', '\ncontroller:\n  estimator: { stableWindow: 60s }\n');
    writeFileSync(join(dir, 'aws.yaml'), text);
    let rps = 40;
    const stepping: MetricsSource = {
      observe: async (nowMs) => ({ load: { atMs: nowMs, windowMs: 30_000, classes: [{ name: 'rm2', rps, sizes: { sizes: Float64Array.of(200), weights: Float64Array.of(1) } }] } }),
    };
    const clock = new SimClock(Date.parse('2026-01-07T12:00:00Z'));
    const ec2 = new FakeEc2(clock);
    const c = await createController({ readiness: ready, loaded: loadConfigFile(join(dir, 'aws.yaml')), logger: silentLogger, clock, membership: new FakeMembership(), metrics: stepping, ec2Client: ec2.client, dryRun: true });
    await c.tick();
    clock.advanceTo(clock.now() + 30_000);
    rps = 10;
    const rec = await c.tick();
    assert.equal(rec.observed?.classes[0]?.rps, 10);
    assert.equal(rec.load?.classes[0]?.rps, 25, 'the 60 s stable window averages 40 and 10');
  });

  it('names a pool without a launch template when the provider is aws', async () => {
    const text = readFileSync(join(dir, 'aws.yaml'), 'utf8').replace('    launchTemplate: mixscale-frugal\n    maxCount: 10\n', '    maxCount: 10\n');
    writeFileSync(join(dir, 'aws.yaml'), text);
    const clock = new SimClock(0);
    await assert.rejects(
      createController({ readiness: ready, loaded: loadConfigFile(join(dir, 'aws.yaml')), logger: silentLogger, clock, membership: new FakeMembership(), metrics: load, ec2Client: new FakeEc2(clock).client }),
      /pools\[1\]\.launchTemplate: pool "c5n"/,
    );
  });
});
