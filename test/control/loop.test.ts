import assert from 'node:assert/strict';
import { SimClock } from '../../src/core/clock.ts';
import { MixscaleError } from '../../src/core/errors.ts';
import type { Mix } from '../../src/core/types.ts';
import { ControlLoop } from '../../src/control/loop.ts';
import { Reconciler } from '../../src/control/reconciler.ts';
import type { CandidateType, MetricsSource, Observation, ScalingPolicy, ScalingState } from '../../src/control/types.ts';
import type { ProfileTable } from '../../src/catalog/profiles.ts';
import { FakeCloud, FakeMembership } from '../support/fake-cloud.ts';

const prices: Record<string, number> = { gpu: 0.5, cpu: 0.1 };

function candidate(type: string): CandidateType {
  return {
    pool: `${type}-pool`,
    type,
    usdPerHour: prices[type]!,
    fast: type === 'gpu',
    slots: 1,
    bootMs: 60_000,
    minCount: 0,
    maxCount: 100,
    available: true,
    profile: () => {
      throw new Error('test policies do not read profiles');
    },
  } satisfies CandidateType & { profile(model: string): ProfileTable };
}

/** One CPU per 10 rps, plus a GPU when anything at all arrives; prefers CPUs when the GPU is unavailable. */
const rpsPolicy: ScalingPolicy = {
  name: 'rps-test',
  decide(s: ScalingState) {
    const rps = s.load.classes.reduce((a, c) => a + c.rps, 0);
    const gpuOk = s.candidates.some((c) => c.type === 'gpu' && c.available);
    const mix: Mix = gpuOk ? { gpu: rps > 0 ? 1 : 0, cpu: Math.ceil(rps / 10) } : { cpu: Math.ceil(rps / 10) + 5 };
    return { mix, reason: `rps ${rps}` };
  },
};

class ScriptedMetrics implements MetricsSource {
  rps = 20;
  down = false;
  calls = 0;
  async observe(nowMs: number): Promise<Observation> {
    this.calls++;
    if (this.down) throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', 'router unreachable');
    return { load: { atMs: nowMs, windowMs: 30_000, classes: [{ name: 'c', rps: this.rps, sizes: { sizes: Float64Array.of(1), weights: Float64Array.of(1) } }] } };
  }
}

function setup(opts: { policy?: ScalingPolicy; budget?: () => number } = {}) {
  const clock = new SimClock(0);
  const cloud = new FakeCloud(clock, prices, 60_000);
  const membership = new FakeMembership();
  const metrics = new ScriptedMetrics();
  const reconciler = new Reconciler({ provider: cloud, membership, clock, priceOf: (t) => prices[t]!, poolOf: (t) => `${t}-pool`, launchTimeoutMs: 300_000, drainTimeoutMs: 60_000 });
  let budget = 2;
  const loop = new ControlLoop({
    clock,
    metrics,
    policy: opts.policy ?? rpsPolicy,
    reconciler,
    classes: [{ name: 'c', model: 'm', sloMs: 100, sloQuantile: 0.99, share: 1 }],
    candidates: () => [candidate('gpu'), candidate('cpu')],
    budgetAt: opts.budget ?? (() => budget),
  });
  const step = async () => {
    const r = await loop.tick();
    clock.advanceTo(clock.now() + 30_000);
    return r;
  };
  return { clock, cloud, membership, metrics, loop, step, setBudget: (b: number) => (budget = b) };
}

async function runningMix(cloud: FakeCloud): Promise<Record<string, number>> {
  const m: Record<string, number> = {};
  for (const i of await cloud.list()) if (i.state === 'running') m[i.type] = (m[i.type] ?? 0) + 1;
  return m;
}

describe('ControlLoop', () => {
  it('observes, decides and reconciles toward the decided mix', async () => {
    const { cloud, membership, step } = setup();
    const first = await step();
    assert.equal(first.status, 'ok');
    assert.deepEqual(first.decision?.mix, { gpu: 1, cpu: 2 });
    for (let k = 0; k < 4; k++) await step();
    assert.deepEqual(await runningMix(cloud), { gpu: 1, cpu: 2 });
    assert.equal(membership.registered.size, 3);
  });

  it('records the mix a policy says the fleet is moving to beside the interim mix it runs now', async () => {
    const policy: ScalingPolicy = { name: 'interim-test', decide: () => ({ mix: { cpu: 1 }, reason: 'interim', movingTo: { cpu: 3 } }) };
    const r = await setup({ policy }).step();
    assert.deepEqual([r.decision?.mix, r.decision?.movingTo], [{ cpu: 1 }, { cpu: 3 }]);
  });

  it('holds the fleet while the metrics source is unreachable, never scaling to zero', async () => {
    const { cloud, metrics, step } = setup();
    for (let k = 0; k < 4; k++) await step();
    metrics.down = true;
    for (let k = 0; k < 3; k++) {
      const r = await step();
      assert.equal(r.status, 'held');
      assert.deepEqual(await runningMix(cloud), { gpu: 1, cpu: 2 });
    }
    metrics.down = false;
    metrics.rps = 40;
    for (let k = 0; k < 4; k++) await step();
    assert.deepEqual(await runningMix(cloud), { gpu: 1, cpu: 4 });
  });

  it('holding the fleet, does not hold an instance of a type the catalog lacks (it goes as surplus, and the tick does not fail)', async () => {
    const clock = new SimClock(0);
    const cloud = new FakeCloud(clock, prices, 60_000);
    const metrics = new ScriptedMetrics();
    const priceOf = (t: string): number => {
      if (prices[t] === undefined) throw new MixscaleError('MIXSCALE_CATALOG_UNKNOWN_TYPE', `unknown instance type "${t}"`);
      return prices[t]!;
    };
    const reconciler = new Reconciler({ provider: cloud, membership: new FakeMembership(), clock, priceOf, poolOf: (t) => `${t}-pool`, launchTimeoutMs: 300_000, drainTimeoutMs: 60_000 });
    const loop = new ControlLoop({ clock, metrics, policy: rpsPolicy, reconciler, classes: [{ name: 'c', model: 'm', sloMs: 100, sloQuantile: 0.99, share: 1 }], candidates: () => [candidate('gpu'), candidate('cpu')], budgetAt: () => 2 });
    cloud.instances.set('i-odd', { id: 'i-odd', type: 'zz9.large', pool: 'zz9.large-pool', state: 'running', launchedAtMs: 0, readyAtMs: 0, usdPerHour: 0.3 });
    metrics.down = true;
    const r = await loop.tick();
    assert.equal(r.status, 'held', r.error?.message);
    assert.ok(r.reconcile?.actions.some((a) => a.kind === 'drain' && a.id === 'i-odd'), JSON.stringify(r.reconcile?.actions));
  });

  it('holds the fleet while the router cannot take membership calls, then registers what runs', async () => {
    const { membership, step } = setup();
    membership.unreachable = true;
    for (let k = 0; k < 4; k++) assert.equal((await step()).status, 'ok');
    assert.equal(membership.registered.size, 0);
    membership.unreachable = false;
    await step();
    assert.equal(membership.registered.size, 3);
  });

  it('never runs two ticks at once: a tick started while one runs is skipped', async () => {
    const { loop } = setup();
    const [a, b] = await Promise.all([loop.tick(), loop.tick()]);
    assert.equal(a.status, 'ok');
    assert.equal(b.status, 'skipped');
  });

  it('records a failed tick and proceeds with the next one', async () => {
    let fail = true;
    const flaky: ScalingPolicy = {
      name: 'flaky',
      decide: (s) => {
        if (fail) throw new Error('policy blew up');
        return rpsPolicy.decide(s);
      },
    };
    const { step } = setup({ policy: flaky });
    const bad = await step();
    assert.equal(bad.status, 'failed');
    assert.match(bad.error?.message ?? '', /blew up/);
    fail = false;
    assert.equal((await step()).status, 'ok');
  });

  it('keeps reconciling toward the last target when the policy cannot decide, so drains finish', async () => {
    // First all-GPU, then all-CPU: the GPUs drain; while they drain the policy finds no mix that
    // fits (as the planner does when draining instances eat the budget) and throws.
    let phase: 'gpu' | 'cpu' | 'stuck' = 'gpu';
    const switching: ScalingPolicy = {
      name: 'switching',
      decide: () => {
        if (phase === 'stuck') throw new MixscaleError('MIXSCALE_BUDGET_INFEASIBLE', 'no mix fits while instances drain');
        return { mix: phase === 'gpu' ? { gpu: 3 } : { cpu: 15 }, reason: phase };
      },
    };
    const { cloud, membership, step } = setup({ policy: switching });
    for (let i = 0; i < 4; i++) await step();
    assert.deepEqual(await runningMix(cloud), { gpu: 3 });
    phase = 'cpu';
    await step();
    phase = 'stuck';
    const records = [];
    for (let i = 0; i < 10; i++) records.push(await step());
    assert.deepEqual(records.map((r) => [r.status, r.reconcile !== undefined]), records.map(() => ['failed', true]));
    assert.deepEqual(await runningMix(cloud), { cpu: 15 });
    assert.ok((await cloud.list()).every((i) => i.type === 'cpu'), 'the drained GPUs were terminated');
    assert.equal(membership.log.filter((l) => l.startsWith('drain ')).length, 3, 'drained through the router before terminating');
  });

  it('cools a type down after a capacity error and replans with the rest in the same tick', async () => {
    const { cloud, step } = setup();
    cloud.noCapacity.add('gpu');
    const r = await step();
    assert.deepEqual(r.unavailable, ['gpu']);
    assert.deepEqual(r.decision?.mix, { cpu: 7 });
    // The tick's record keeps both attempts: the refused launch and the replan's.
    assert.deepEqual(r.reconcile?.capacityErrors, ['gpu']);
    assert.deepEqual(r.reconcile?.failures.map((f) => `${f.code} ${f.action.type}`), ['MIXSCALE_CLOUD_CAPACITY gpu']);
    assert.ok(r.reconcile?.actions.some((a) => a.kind === 'launch' && a.type === 'gpu'));
    assert.ok(r.reconcile?.actions.some((a) => a.kind === 'launch' && a.type === 'cpu'));
    for (let k = 0; k < 3; k++) await step();
    assert.deepEqual(await runningMix(cloud), { cpu: 7 });
  });

  it('survives API throttling: the failed tick is recorded and later ticks converge', async () => {
    const { cloud, step } = setup();
    cloud.failWith = new MixscaleError('MIXSCALE_CLOUD_API', 'Rate exceeded', { retryable: true });
    assert.equal((await step()).status, 'failed');
    cloud.failWith = undefined;
    for (let k = 0; k < 4; k++) await step();
    assert.deepEqual(await runningMix(cloud), { gpu: 1, cpu: 2 });
  });

  it('scales down when the budget is lowered at run time: drain, then terminate, never over budget', async () => {
    const { cloud, membership, step, setBudget, metrics } = setup();
    metrics.rps = 100;
    for (let k = 0; k < 5; k++) await step();
    assert.deepEqual(await runningMix(cloud), { gpu: 1, cpu: 10 });
    setBudget(1.0);
    const r = await step();
    assert.ok(r.reconcile!.actions.some((a) => a.kind === 'drain'));
    assert.ok(!r.reconcile!.actions.some((a) => a.kind === 'launch'));
    for (let k = 0; k < 4; k++) await step();
    assert.ok(cloud.spend() <= 1.0 + 1e-9);
    for (const id of membership.log.filter((l) => l.startsWith('deregister ')).map((l) => l.slice(11))) {
      assert.ok(membership.log.includes(`drain ${id}`), `${id} was drained before it was terminated`);
    }
  });

  it('follows a price change mid-run', async () => {
    const { cloud, step, metrics } = setup();
    metrics.rps = 100;
    for (let k = 0; k < 5; k++) await step();
    prices.cpu = 0.2;
    try {
      for (let k = 0; k < 5; k++) await step();
      // Budget 2: the new price fits at most 7 CPUs next to the GPU.
      const spend = (await cloud.list()).reduce((s, i) => s + prices[i.type]!, 0);
      assert.ok(spend <= 2 + 1e-9, `spend at new prices ${spend}`);
      assert.deepEqual(await runningMix(cloud), { gpu: 1, cpu: 7 });
    } finally {
      prices.cpu = 0.1;
    }
  });
});
