import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.ts';
import { SimClock } from '../../src/core/clock.ts';
import { MixscaleError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { SimCloud } from '../../sim/cloud.ts';

const catalog = Catalog.load();

async function rejectsWith(p: Promise<unknown>, code: string): Promise<MixscaleError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof MixscaleError, String(e));
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('simulated cloud', () => {
  it('boots instances after the per-type delay: GPUs slower by default', async () => {
    const clock = new SimClock();
    const cloud = new SimCloud({ clock, catalog });
    const [gpu] = await cloud.launch({ type: 'g4dn.xlarge', pool: 'fast', count: 1, clientToken: 'a' });
    const [cpu] = await cloud.launch({ type: 'r5n.large', pool: 'frugal', count: 1, clientToken: 'b' });
    assert.equal(gpu!.state, 'pending');
    clock.advanceTo(60_000);
    assert.equal(cpu!.state, 'running');
    assert.equal(cpu!.readyAtMs, 60_000);
    assert.equal(gpu!.state, 'pending');
    clock.advanceTo(120_000);
    assert.equal(gpu!.state, 'running');
  });

  it('honours configured boot delays', async () => {
    const clock = new SimClock();
    const cloud = new SimCloud({ clock, catalog, bootMs: { 'r5n.large': 5000 } });
    const [i] = await cloud.launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 't' });
    clock.advanceTo(5000);
    assert.equal(i!.state, 'running');
  });

  it('launches idempotently by client token', async () => {
    const cloud = new SimCloud({ clock: new SimClock(), catalog });
    const a = await cloud.launch({ type: 'r5n.large', pool: 'p', count: 2, clientToken: 'same' });
    const b = await cloud.launch({ type: 'r5n.large', pool: 'p', count: 2, clientToken: 'same' });
    assert.deepEqual(b.map((i) => i.id), a.map((i) => i.id));
    assert.equal((await cloud.list()).length, 2);
  });

  it('bills per second at catalog price with a one-minute minimum', async () => {
    const clock = new SimClock();
    const cloud = new SimCloud({ clock, catalog });
    const [a] = await cloud.launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 'a' });
    clock.advanceTo(10_000);
    await cloud.terminate([a!.id]);
    assert.ok(Math.abs(cloud.totalUsd() - (0.149 * 60) / 3600) < 1e-12);
    const [b] = await cloud.launch({ type: 'g4dn.xlarge', pool: 'p', count: 1, clientToken: 'b' });
    clock.advanceTo(10_000 + 3_600_500);
    await cloud.terminate([b!.id]);
    assert.ok(Math.abs(cloud.totalUsd() - (0.149 * 60) / 3600 - (0.526 * 3601) / 3600) < 1e-12);
  });

  it('lists only live instances and refuses to terminate what it does not own', async () => {
    const cloud = new SimCloud({ clock: new SimClock(), catalog });
    const [a] = await cloud.launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 'a' });
    await cloud.terminate([a!.id]);
    assert.deepEqual(await cloud.list(), []);
    await cloud.terminate([a!.id]);
    const e = await rejectsWith(cloud.terminate(['i-0123456789']), 'MIXSCALE_CLOUD_API');
    assert.equal(e.details.retryable, false);
  });

  it('fails launches beyond capacity, or at the configured error rate, naming the type', async () => {
    const cloud = new SimCloud({ clock: new SimClock(), catalog, capacity: { 'g4dn.xlarge': 1 } });
    await cloud.launch({ type: 'g4dn.xlarge', pool: 'p', count: 1, clientToken: 'a' });
    const e = await rejectsWith(cloud.launch({ type: 'g4dn.xlarge', pool: 'p', count: 1, clientToken: 'b' }), 'MIXSCALE_CLOUD_CAPACITY');
    assert.equal(e.details.type, 'g4dn.xlarge');
    const flaky = new SimCloud({ clock: new SimClock(), catalog, capacityErrorRate: 1, rng: new Rng(1) });
    await rejectsWith(flaky.launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 'c' }), 'MIXSCALE_CLOUD_CAPACITY');
    await rejectsWith(flaky.launch({ type: 'no.such', pool: 'p', count: 1, clientToken: 'd' }), 'MIXSCALE_CLOUD_CAPACITY');
  });

  it('meters the highest spend rate and the time spent over budget, pending instances included', async () => {
    const clock = new SimClock();
    const cloud = new SimCloud({ clock, catalog, budgetAt: () => 1 });
    await cloud.launch({ type: 'g4dn.xlarge', pool: 'p', count: 1, clientToken: 'a' });
    clock.advanceTo(30_000);
    const [b] = await cloud.launch({ type: 'g4dn.xlarge', pool: 'p', count: 1, clientToken: 'b' });
    clock.advanceTo(40_000);
    await cloud.terminate([b!.id]);
    clock.advanceTo(100_000);
    assert.ok(Math.abs(cloud.maxUsdPerHour() - 1.052) < 1e-9);
    assert.equal(cloud.overBudgetSeconds(), 10);
  });

  it('meters against a budget that changes between launches, piece by piece', async () => {
    // One r5n.large ($0.149/h) from 0 to 60 s; the budget changes at 30 s.
    const run = async (before: number, after: number): Promise<number> => {
      const clock = new SimClock();
      const cloud = new SimCloud({ clock, catalog, budgetAt: (t) => (t < 30_000 ? before : after), nextBudgetChange: (t) => (t < 30_000 ? 30_000 : undefined) });
      await cloud.launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 'a' });
      clock.advanceTo(60_000);
      await cloud.terminate(cloud.instances().map((i) => i.id));
      clock.advanceTo(90_000);
      return cloud.overBudgetSeconds();
    };
    assert.equal(await run(10, 0.1), 30, 'the budget falls under the spend at 30 s');
    assert.equal(await run(0.1, 10), 30, 'the budget rises over the spend at 30 s');
    assert.equal(await run(0.1, 0.1), 60);
  });
});
