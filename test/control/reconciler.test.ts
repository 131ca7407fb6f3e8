import assert from 'node:assert/strict';
import { SimClock } from '../../src/core/clock.ts';
import { MixscaleError } from '../../src/core/errors.ts';
import type { Instance, Mix } from '../../src/core/types.ts';
import { fitMixToBudget, planActions, Reconciler, type FleetSnapshot, type PlanRules } from '../../src/control/reconciler.ts';
import { FakeCloud, FakeMembership } from '../support/fake-cloud.ts';

const PRICES: Record<string, number> = { gpu: 0.5, cpu: 0.1, edge: 0.2 };
const rules: PlanRules = {
  priceOf: (t) => PRICES[t]!,
  poolOf: (t) => `${t}-pool`,
  launchTimeoutMs: 600_000,
  drainTimeoutMs: 120_000,
  tokenPrefix: 'test',
};

function inst(id: string, type: string, state: Instance['state'], launchedAtMs = 0): Instance {
  return { id, type, pool: `${type}-pool`, state, launchedAtMs, usdPerHour: PRICES[type]!, ...(state === 'running' ? { readyAtMs: launchedAtMs + 60_000 } : {}) };
}

function snap(fleet: Instance[], extra: Partial<FleetSnapshot> = {}): FleetSnapshot {
  return { nowMs: 1_000_000, fleet, drainingSinceMs: new Map(), inFlight: new Map(), registered: new Set(fleet.map((i) => i.id)), ...extra };
}

const kinds = (p: { actions: readonly { kind: string }[] }) => p.actions.map((a) => a.kind);

describe('planActions', () => {
  it('launches the deficit of each type in one call per type', () => {
    const p = planActions({ gpu: 1, cpu: 3 }, 10, snap([]), rules);
    const launches = p.actions.filter((a) => a.kind === 'launch');
    assert.deepEqual(launches.map((a) => [a.type, a.count, a.pool]), [['cpu', 3, 'cpu-pool'], ['gpu', 1, 'gpu-pool']]);
    assert.ok(Math.abs(p.plannedSpendUsdPerHour - 0.8) < 1e-9);
  });

  it('registers a running instance in its type’s pool when its own pool is missing or one the config no longer has (the router would refuse it every tick)', () => {
    const untagged = { ...inst('a', 'cpu', 'running'), pool: 'unknown' };
    const renamed = { ...inst('b', 'cpu', 'running'), pool: 'cpu-old-name' };
    const p = planActions({ cpu: 2 }, 10, snap([untagged, renamed], { registered: new Set() }), rules);
    const registers = p.actions.filter((a) => a.kind === 'register');
    assert.deepEqual(registers.map((a) => [a.id, a.kind === 'register' && a.instance.pool]), [['a', 'cpu-pool'], ['b', 'cpu-pool']]);
  });

  it('never plans spend over the budget, trimming the target first', () => {
    const p = planActions({ gpu: 2, cpu: 10 }, 1.2, snap([]), rules);
    assert.ok(p.plannedSpendUsdPerHour <= 1.2 + 1e-9);
    assert.ok(Object.entries(p.target).reduce((s, [t, n]) => s + n * PRICES[t]!, 0) <= 1.2 + 1e-9);
  });

  it('launches before it drains when the budget holds both, and drains once the replacements run', () => {
    const fleet = [inst('a', 'gpu', 'running'), inst('b', 'gpu', 'running')];
    const first = planActions({ gpu: 1, cpu: 4 }, 2, snap(fleet), rules);
    assert.deepEqual(kinds(first), ['launch']);
    const withPending = [...fleet, ...['c1', 'c2', 'c3', 'c4'].map((id) => inst(id, 'cpu', 'pending', 999_000))];
    assert.deepEqual(kinds(planActions({ gpu: 1, cpu: 4 }, 2, snap(withPending), rules)), []);
    const ready = [...fleet, ...['c1', 'c2', 'c3', 'c4'].map((id) => inst(id, 'cpu', 'running'))];
    const later = planActions({ gpu: 1, cpu: 4 }, 2, snap(ready), rules);
    assert.deepEqual(kinds(later), ['drain']);
    assert.equal(later.actions[0]!.kind === 'drain' && later.actions[0]!.id, 'b');
  });

  it('drains first and launches only what fits when the budget cannot hold old and new', () => {
    const fleet = [inst('a', 'gpu', 'running'), inst('b', 'gpu', 'running')];
    // The draining GPU is still billed: no CPU fits yet, so this tick only drains.
    const p = planActions({ gpu: 1, cpu: 5 }, 1.0, snap(fleet), rules);
    assert.deepEqual(kinds(p), ['drain']);
    assert.ok(p.plannedSpendUsdPerHour <= 1.0 + 1e-9);
    // Once the drained GPU is idle it is terminated and the CPUs launch in the same step.
    const draining = [inst('a', 'gpu', 'running'), inst('b', 'gpu', 'draining')];
    const q = planActions({ gpu: 1, cpu: 5 }, 1.0, snap(draining, { drainingSinceMs: new Map([['b', 999_000]]), inFlight: new Map([['b', 0]]) }), rules);
    assert.deepEqual(q.actions.map((a) => `${a.kind} ${a.kind === 'launch' ? a.count : a.id}`), ['terminate b', 'launch 5']);
    assert.ok(q.plannedSpendUsdPerHour <= 1.0 + 1e-9);
  });

  it('keeps the last instance serving a model while its replacements boot, even when other models have instances', () => {
    const fleet = [inst('a', 'gpu', 'running'), inst('b', 'gpu', 'running'), inst('e', 'edge', 'running')];
    const models: Record<string, string[]> = { 'gpu-pool': ['rm2'], 'cpu-pool': ['rm2'], 'edge-pool': ['digits'] };
    const byModel = planActions({ cpu: 6, edge: 1 }, 1.2, snap(fleet), { ...rules, modelsOf: (pool) => models[pool]! });
    assert.deepEqual(byModel.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['drain b'], 'the edge node does not serve rm2');
    // Blind to models, the edge node would count as serving, and both GPUs would go.
    assert.deepEqual(kinds(planActions({ cpu: 6, edge: 1 }, 1.2, snap(fleet), rules)), ['drain', 'drain']);
    // A target that serves rm2 no more (no instance of a pool serving it) has no replacement to
    // wait for: the GPUs go for the edge nodes it wants.
    const noRm2 = planActions({ edge: 6 }, 1.2, snap(fleet), { ...rules, modelsOf: (pool) => models[pool]! });
    assert.deepEqual(kinds(noRm2), ['drain', 'drain']);
  });

  it('replaces a fleet the budget cannot double without ever draining it all at once', () => {
    // Two GPUs ($1/h) to six CPUs under $1/h: each step drains what the next launches need.
    const gpus = [inst('a', 'gpu', 'running'), inst('b', 'gpu', 'running')];
    const step1 = planActions({ cpu: 6 }, 1.0, snap(gpus), rules);
    assert.deepEqual(step1.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['drain b'], 'one GPU keeps serving');
    // The drained GPU is still busy: it counts as going, so the other one is not drained too.
    const busy = planActions({ cpu: 6 }, 1.0, snap([gpus[0]!, inst('b', 'gpu', 'draining')], { drainingSinceMs: new Map([['b', 999_000]]), inFlight: new Map([['b', 2]]) }), rules);
    assert.deepEqual(kinds(busy), []);
    // Once it is idle, it goes and the CPUs its money buys launch.
    const idle = planActions({ cpu: 6 }, 1.0, snap([gpus[0]!, inst('b', 'gpu', 'draining')], { drainingSinceMs: new Map([['b', 999_000]]), inFlight: new Map([['b', 0]]) }), rules);
    assert.deepEqual(idle.actions.map((a) => `${a.kind} ${a.kind === 'launch' ? a.count : a.id}`), ['terminate b', 'launch 5']);
    // While they boot, the last GPU stays.
    const cpus = (state: Instance['state']) => ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => inst(id, 'cpu', state, 999_000));
    assert.deepEqual(kinds(planActions({ cpu: 6 }, 1.0, snap([gpus[0]!, ...cpus('pending')]), rules)), []);
    // Once they serve, the last GPU makes room for the sixth CPU.
    const last = planActions({ cpu: 6 }, 1.0, snap([gpus[0]!, ...cpus('running')]), rules);
    assert.deepEqual(last.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['drain a']);
  });

  it('drains only as many as the launches need, cheapest loss first; the rest once the replacement serves', () => {
    const prices: Record<string, number> = { a: 0.2, b: 0.5 };
    const r: PlanRules = { ...rules, priceOf: (t) => prices[t]! };
    const running = (id: string, type: string): Instance => ({ id, type, pool: `${type}-pool`, state: 'running', launchedAtMs: 0, readyAtMs: 60_000, usdPerHour: prices[type]! });
    const three = ['a1', 'a2', 'a3'].map((id) => running(id, 'a'));
    // $0.6/h + $0.5/h for b over a $1/h budget: freeing $0.1/h is enough, so one a goes.
    const p = planActions({ b: 1 }, 1.0, snap(three), r);
    assert.deepEqual(p.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['drain a3']);
    const withB = [running('a1', 'a'), running('a2', 'a'), running('b1', 'b')];
    const q = planActions({ b: 1 }, 1.0, snap(withB), r);
    assert.deepEqual(q.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`).sort(), ['drain a1', 'drain a2']);
  });

  it('keeps the last serving instance while a replacement fits beside it, and drains it (a stated gap) when none does', () => {
    const gpu = [inst('g', 'gpu', 'running')];
    // $0.5/h GPU → five $0.1/h CPUs under $0.65/h: one CPU fits beside the GPU, which stays.
    const beside = planActions({ cpu: 5 }, 0.65, snap(gpu), rules);
    assert.deepEqual(beside.actions.map((a) => `${a.kind} ${a.kind === 'launch' ? a.count : a.id}`), ['launch 1']);
    // Under $0.55/h no CPU fits beside it: waiting would wait forever, so the GPU goes first.
    const gap = planActions({ cpu: 5 }, 0.55, snap(gpu), rules);
    assert.deepEqual(kinds(gap), ['drain']);
    assert.match(gap.actions[0]!.reason, /serving gap/);
    // A replacement already booting is worth waiting for, though no more fit beside it.
    const booting = planActions({ cpu: 5 }, 0.65, snap([...gpu, inst('c', 'cpu', 'pending', 999_000)]), rules);
    assert.deepEqual(kinds(booting), []);
  });

  it('counts a kept last server as staying: two models whose replacements cannot both fit beside their last servers do not stall', () => {
    // gpuA serves A, gpuB serves B ($0.5/h each); the target is one $0.3/h CPU per model under $1.1/h.
    const prices: Record<string, number> = { gpuA: 0.5, gpuB: 0.5, cpuA: 0.3, cpuB: 0.3 };
    const models: Record<string, string[]> = { gpuA: ['A'], gpuB: ['B'], cpuA: ['A'], cpuB: ['B'] };
    const r: PlanRules = { ...rules, priceOf: (t) => prices[t]!, poolOf: (t) => t, modelsOf: (pool) => models[pool]! };
    const run = (id: string, type: string): Instance => ({ id, type, pool: type, state: 'running', launchedAtMs: 0, readyAtMs: 60_000, usdPerHour: prices[type]! });
    const p = planActions({ cpuA: 1, cpuB: 1 }, 1.1, snap([run('ga', 'gpuA'), run('gb', 'gpuB')]), r);
    const drains = p.actions.filter((a) => a.kind === 'drain');
    assert.equal(drains.length, 1, 'one keeps serving its model while the other makes room');
    assert.match(drains[0]!.reason, /serving gap/);
  });

  it('drains at once what an over-budget fleet must give up, however the replacements stand', () => {
    const fleet = [inst('a', 'gpu', 'running'), inst('b', 'gpu', 'running'), inst('c', 'gpu', 'running'), inst('p', 'cpu', 'pending', 999_000)];
    const p = planActions({ gpu: 1, cpu: 3 }, 1.0, snap(fleet), rules);
    const drains = p.actions.filter((a) => a.kind === 'drain');
    assert.equal(drains.length, 2, 'spend $1.6/h over a $1/h budget: two GPUs go now');
  });

  it('terminates a drained instance once it is idle, and waits while requests are in flight', () => {
    const fleet = [inst('a', 'gpu', 'draining'), inst('b', 'gpu', 'draining')];
    const drainingSinceMs = new Map([['a', 990_000], ['b', 990_000]]);
    const p = planActions({}, 2, snap(fleet, { drainingSinceMs, inFlight: new Map([['a', 0], ['b', 3]]) }), rules);
    assert.deepEqual(p.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['terminate a']);
  });

  it('terminates a drain that outlasts the drain timeout', () => {
    const fleet = [inst('a', 'gpu', 'draining')];
    const p = planActions({}, 2, snap(fleet, { drainingSinceMs: new Map([['a', 0]]), inFlight: new Map([['a', 7]]) }), rules);
    assert.deepEqual(kinds(p), ['terminate']);
  });

  it('terminates a launch that never reaches running and replans it with a fresh token', () => {
    const before = planActions({ gpu: 1 }, 2, snap([], { nowMs: 0 }), rules);
    const stuck = [inst('s', 'gpu', 'pending', 0)];
    const after = planActions({ gpu: 1 }, 2, snap(stuck, { nowMs: 600_000 }), rules);
    assert.deepEqual(kinds(after), ['terminate', 'launch']);
    const t0 = before.actions[0]!.kind === 'launch' ? before.actions[0]!.clientToken : '';
    const t1 = after.actions[1]!.kind === 'launch' ? after.actions[1]!.clientToken : '';
    assert.notEqual(t0, t1);
  });

  it('gives the same clientToken for the same fleet and target (a restarted controller repeats, not doubles)', () => {
    const a = planActions({ cpu: 3 }, 2, snap([inst('x', 'cpu', 'running')]), rules);
    const b = planActions({ cpu: 3 }, 2, snap([inst('x', 'cpu', 'running')]), rules);
    assert.deepEqual(a.actions, b.actions);
    const t = a.actions[0]!.kind === 'launch' ? a.actions[0]!.clientToken : '';
    assert.ok(t.length <= 64 && /^[\x21-\x7e]+$/.test(t));
  });

  it('terminates surplus pending instances at once instead of draining them', () => {
    const fleet = [inst('r', 'cpu', 'running'), inst('p', 'cpu', 'pending', 999_000)];
    const p = planActions({ cpu: 1 }, 2, snap(fleet), rules);
    assert.deepEqual(p.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['terminate p']);
  });

  it('registers running instances the membership does not know yet, and only those', () => {
    const fleet = [inst('r1', 'cpu', 'running'), inst('r2', 'cpu', 'running'), inst('p', 'cpu', 'pending', 999_000)];
    const p = planActions({ cpu: 3 }, 2, snap(fleet, { registered: new Set(['r1']) }), rules);
    assert.deepEqual(p.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['register r2']);
  });

  it('does not register an instance the same plan drains (registering last would give it traffic again)', () => {
    // A restarted controller knows of no registrations; the surplus one is drained, not registered.
    const fleet = [inst('r1', 'cpu', 'running'), inst('r2', 'cpu', 'running', 500)];
    const p = planActions({ cpu: 1 }, 2, snap(fleet, { registered: new Set() }), rules);
    assert.deepEqual(p.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['register r1', 'drain r2']);
  });

  it('drains the newest instance of a type first', () => {
    const fleet = [inst('old', 'gpu', 'running', 0), inst('new', 'gpu', 'running', 500_000), inst('mid', 'gpu', 'running', 200_000)];
    const p = planActions({ gpu: 2 }, 2, snap(fleet), rules);
    assert.deepEqual(p.actions.map((a) => `${a.kind} ${'id' in a ? a.id : ''}`), ['drain new']);
  });

  it('scales down the cheapest loss of latency first when the budget forces a cut', () => {
    // One GPU of one, or one CPU of ten: losing a CPU costs a tenth of a pool for $0.1.
    const trimmed = fitMixToBudget({ gpu: 1, cpu: 10 }, 1.4, rules);
    assert.deepEqual(trimmed, { gpu: 1, cpu: 9 });
  });
});

describe('Reconciler', () => {
  function setup() {
    const clock = new SimClock(0);
    const cloud = new FakeCloud(clock, PRICES, 60_000);
    const membership = new FakeMembership();
    const make = () => new Reconciler({ provider: cloud, membership, clock, priceOf: rules.priceOf, poolOf: rules.poolOf, launchTimeoutMs: 300_000, drainTimeoutMs: 60_000, cluster: 'test' });
    /** A reconciler whose two cpu instances (i-1, i-2) run and are registered, at 60 s. */
    const serving = async (): Promise<Reconciler> => {
      const r = make();
      await r.reconcile({ cpu: 2 }, 1);
      clock.advanceTo(60_000);
      await r.reconcile({ cpu: 2 }, 1);
      return r;
    };
    return { clock, cloud, membership, make, serving };
  }

  it("launches again under a new token when a restarted controller's plan reuses a token whose instances are gone", async () => {
    const { cloud, make } = setup();
    // A first run launches 2 cpu and dies; the instances are terminated (by hand, by a later run).
    await make().reconcile({ cpu: 2 }, 1);
    const first = cloud.calls.launch[0]!;
    await cloud.terminate((await cloud.list()).map((i) => i.id));
    // A new run plans the same launch from the same (empty) fleet in the same time bucket: the same token.
    const r = await make().reconcile({ cpu: 2 }, 1);
    const launches = cloud.calls.launch.slice(1);
    assert.equal(launches[0]!.clientToken, first.clientToken, 'the plan repeats the spent token');
    assert.equal(launches.length, 2, 'and launches again under a new one');
    assert.notEqual(launches[1]!.clientToken, first.clientToken);
    assert.equal((await cloud.list()).filter((i) => i.state === 'pending').length, 2);
    assert.deepEqual(r.failures, []);
  });

  it('launches, then registers the instances with the membership once they run', async () => {
    const { clock, cloud, membership, make } = setup();
    const r = make();
    await r.reconcile({ cpu: 2 }, 1);
    assert.equal(cloud.spend(), 0.2);
    assert.equal(membership.registered.size, 0);
    clock.advanceTo(60_000);
    await r.reconcile({ cpu: 2 }, 1);
    assert.equal(membership.registered.size, 2);
  });

  it('drains through the membership before it terminates, and terminates once idle', async () => {
    const { clock, cloud, membership, serving } = setup();
    const r = await serving();
    const ids = [...membership.registered];
    for (const id of ids) membership.inFlightById.set(id, 2);
    await r.reconcile({ cpu: 1 }, 1);
    assert.equal(membership.drained.size, 1);
    assert.equal(cloud.calls.terminate.length, 0);
    const drained = [...membership.drained][0]!;
    membership.inFlightById.set(drained, 0);
    clock.advanceTo(90_000);
    await r.reconcile({ cpu: 1 }, 1);
    assert.deepEqual(cloud.calls.terminate, [[drained]]);
    assert.ok(membership.log.indexOf(`drain ${drained}`) < membership.log.indexOf(`deregister ${drained}`));
  });

  it('does not launch again when restarted mid-reconcile: it adopts what it launched', async () => {
    const { clock, cloud, membership, make } = setup();
    await make().reconcile({ cpu: 3 }, 1);
    clock.advanceTo(10_000);
    const restarted = make();
    const res = await restarted.reconcile({ cpu: 3 }, 1);
    assert.equal(res.actions.filter((a) => a.kind === 'launch').length, 0);
    assert.equal(cloud.instances.size, 3);
    clock.advanceTo(60_000);
    await restarted.reconcile({ cpu: 3 }, 1);
    assert.equal(membership.registered.size, 3);
  });

  /** A controller that drained one of two busy instances, and its successor, given the drain in progress. */
  async function handedOver() {
    const { clock, cloud, membership, make } = setup();
    const first = make();
    await first.reconcile({ cpu: 2 }, 1);
    clock.advanceTo(60_000);
    await first.reconcile({ cpu: 2 }, 1);
    for (const id of membership.registered) membership.inFlightById.set(id, 1);
    await first.reconcile({ cpu: 1 }, 1);
    const drained = [...membership.drained];
    assert.equal(drained.length, 1);
    // Restarted: the successor gets the drains in progress (the controller keeps them in its status file).
    const second = new Reconciler({ provider: cloud, membership, clock, priceOf: rules.priceOf, poolOf: rules.poolOf, launchTimeoutMs: 300_000, drainTimeoutMs: 60_000, cluster: 'test', draining: first.draining() });
    return { cloud, membership, drained: drained[0]!, second };
  }

  it('finishes the drains of a controller it replaces instead of counting drained instances as serving', async () => {
    const { cloud, membership, drained, second } = await handedOver();
    const r = await second.reconcile({ cpu: 1 }, 1);
    assert.deepEqual(r.actions.filter((a) => a.kind === 'drain' || a.kind === 'launch' || (a.kind === 'register' && a.id === drained)), [], 'nothing new drained or launched; the drained one not re-registered');
    membership.inFlightById.set(drained, 0);
    await second.reconcile({ cpu: 1 }, 1);
    assert.deepEqual(cloud.calls.terminate, [[drained]]);
  });

  it("keeps a drain it took over when the successor's first listing misses the instance, until a second one misses it too", async () => {
    const { cloud, membership, drained, second } = await handedOver();
    const list = cloud.list.bind(cloud);
    cloud.list = async () => (await list()).filter((i) => i.id !== drained);
    await second.fleet();
    assert.ok(!membership.log.includes(`deregister ${drained}`), 'one miss is not proof it is gone');
    cloud.list = list;
    const fleet = await second.fleet();
    assert.equal(fleet.find((i) => i.id === drained)?.state, 'draining', 'still draining when listed again');
    cloud.list = async () => (await list()).filter((i) => i.id !== drained);
    await second.fleet();
    await second.fleet();
    await second.reconcile({ cpu: 1 }, 1);
    assert.ok(membership.log.includes(`deregister ${drained}`), 'gone after two misses in a row');
  });

  it('repeating a launch with the same token yields the same instances, not new ones', async () => {
    const { cloud, make } = setup();
    const r = make();
    const plan = await r.reconcile({ cpu: 2 }, 1, { dryRun: true });
    const launch = plan.actions.find((a) => a.kind === 'launch')!;
    assert.equal(cloud.instances.size, 0, 'a dry run changes nothing');
    // Killed after the API call but before the list shows it: the same token comes back.
    if (launch.kind !== 'launch') throw new Error('expected a launch');
    await cloud.launch({ type: launch.type, pool: launch.pool, count: launch.count, clientToken: launch.clientToken });
    const ids = await cloud.launch({ type: launch.type, pool: launch.pool, count: launch.count, clientToken: launch.clientToken });
    assert.equal(cloud.instances.size, 2);
    assert.equal(ids.length, 2);
  });

  it('never touches an instance it does not own', async () => {
    const { cloud, make } = setup();
    const r = make();
    await r.reconcile({}, 1);
    assert.ok(!(await cloud.list()).some((i) => i.id === cloud.foreign.id));
    assert.deepEqual(cloud.calls.terminate, []);
  });

  it('relaunches a type it scaled away moments ago, instead of getting the old instance back', async () => {
    const { clock, cloud, make } = setup();
    const r = make();
    await r.reconcile({ cpu: 1 }, 1);
    clock.advanceTo(10_000);
    await r.reconcile({}, 1); // pending surplus: terminated at once
    assert.equal((await cloud.list()).length, 0);
    clock.advanceTo(20_000);
    await r.reconcile({ cpu: 1 }, 1);
    assert.equal((await cloud.list()).length, 1, 'a new instance, in the same token time bucket');
    assert.equal(new Set(cloud.calls.launch.map((l) => l.clientToken)).size, 2);
  });

  it('reports a capacity error per type without throwing', async () => {
    const { cloud, make } = setup();
    cloud.noCapacity.add('gpu');
    const res = await make().reconcile({ gpu: 1, cpu: 1 }, 2);
    assert.deepEqual(res.capacityErrors, ['gpu']);
    assert.equal(cloud.instances.size, 1);
  });

  it('replaces an instance that died, once two listings in a row miss it', async () => {
    const { cloud, serving } = setup();
    const r = await serving();
    cloud.kill([...cloud.instances.keys()][0]!);
    const once = await r.reconcile({ cpu: 2 }, 1);
    assert.deepEqual(once.actions.filter((a) => a.kind === 'launch'), [], 'one listing that misses it is not proof it is gone');
    const res = await r.reconcile({ cpu: 2 }, 1);
    assert.deepEqual(res.actions.filter((a) => a.kind === 'launch').map((a) => a.kind === 'launch' && a.count), [1]);
  });

  it('terminates before it launches within a tick, so the cloud never bills past the budget', async () => {
    const { clock, cloud, make } = setup();
    const r = make();
    await r.reconcile({ gpu: 2 }, 1.0);
    clock.advanceTo(60_000);
    await r.reconcile({ gpu: 2 }, 1.0);
    // The budget holds one GPU and five CPUs: drain a GPU (idle), then in one tick terminate it and launch.
    await r.reconcile({ gpu: 1, cpu: 5 }, 1.0);
    clock.advanceTo(61_000);
    const res = await r.reconcile({ gpu: 1, cpu: 5 }, 1.0);
    assert.deepEqual(res.actions.map((a) => a.kind).sort(), ['launch', 'terminate']);
    assert.ok(cloud.peakSpend <= 1.0 + 1e-9, `billed $${cloud.peakSpend}/h at a launch`);
  });

  it('launches nothing a failed termination was to pay for, and catches up once the termination works', async () => {
    const { clock, cloud, make } = setup();
    const r = make();
    await r.reconcile({ gpu: 2 }, 1.0);
    clock.advanceTo(60_000);
    await r.reconcile({ gpu: 2 }, 1.0);
    await r.reconcile({ gpu: 1, cpu: 5 }, 1.0); // drains one GPU: the budget cannot hold the CPUs beside both
    const terminate = cloud.terminate.bind(cloud);
    cloud.terminate = async () => {
      throw new MixscaleError('MIXSCALE_CLOUD_API', 'TerminateInstances: RequestLimitExceeded', { retryable: true });
    };
    const res = await r.reconcile({ gpu: 1, cpu: 5 }, 1.0);
    assert.deepEqual(res.actions.map((a) => a.kind).sort(), ['launch', 'terminate'], 'the plan counted on the termination');
    assert.equal(cloud.calls.launch.length, 1, 'only the first GPU launch reached the cloud');
    assert.ok(cloud.spend() <= 1.0 + 1e-9, `billed $${cloud.spend()}/h`);
    assert.deepEqual(res.failures.map((f) => `${f.action.kind} ${f.code}`).sort(), ['launch MIXSCALE_BUDGET_INFEASIBLE', 'terminate MIXSCALE_CLOUD_API']);
    cloud.terminate = terminate;
    await r.reconcile({ gpu: 1, cpu: 5 }, 1.0);
    assert.equal(cloud.calls.launch.at(-1)?.count, 5);
    assert.ok(cloud.peakSpend <= 1.0 + 1e-9);
  });

  it('cuts a launch to what the budget holds when a launch-timeout termination fails', async () => {
    const { clock, cloud, make } = setup();
    const r = make();
    cloud.stuck.add('gpu');
    await r.reconcile({ gpu: 1 }, 0.7);
    clock.advanceTo(300_000);
    cloud.terminate = async () => {
      throw new MixscaleError('MIXSCALE_CLOUD_API', 'DescribeInstances: RequestLimitExceeded', { retryable: true });
    };
    const res = await r.reconcile({ cpu: 3 }, 0.7);
    assert.ok(res.actions.some((a) => a.kind === 'terminate' && /launch timeout/.test(a.reason)));
    const planned = res.actions.find((a) => a.kind === 'launch');
    assert.ok(planned?.kind === 'launch' && planned.count === 3);
    const sent = cloud.calls.launch.at(-1)!;
    assert.equal(sent.count, 2, 'the stuck GPU is still billed: two CPUs fit, not three');
    assert.notEqual(sent.clientToken, planned.clientToken);
    assert.ok(cloud.spend() <= 0.7 + 1e-9, `billed $${cloud.spend()}/h`);
  });

  it('remembers what it launched until the provider lists it, and forgets it after the launch timeout', async () => {
    const { clock, cloud, make } = setup();
    const r = make();
    const list = cloud.list.bind(cloud);
    let lagMs = Infinity; // the listing misses launches younger than this
    cloud.list = async () => (await list()).filter((i) => clock.now() - i.launchedAtMs >= lagMs);
    await r.reconcile({ cpu: 2 }, 1);
    clock.advanceTo(30_000);
    const again = await r.reconcile({ cpu: 3 }, 1);
    assert.deepEqual(again.actions.map((a) => (a.kind === 'launch' ? a.count : a.kind)), [1], 'the two unlisted count toward the target');
    assert.ok(Math.abs(again.spendUsdPerHour - 0.2) < 1e-9, 'and against the budget');
    lagMs = 40_000;
    clock.advanceTo(45_000);
    assert.deepEqual((await r.fleet()).map((i) => i.id).sort(), ['i-1', 'i-2', 'i-3'], 'listed or remembered, each once');
    // One that never shows up is forgotten after the launch timeout (300 s here) and launched anew.
    cloud.list = async () => (await list()).filter((i) => i.id !== 'i-3');
    clock.advanceTo(30_000 + 300_000);
    const relaunch = await r.reconcile({ cpu: 3 }, 1);
    assert.deepEqual(relaunch.actions.filter((a) => a.kind === 'launch').map((a) => a.kind === 'launch' && a.count), [1]);
  });

  it("takes the router's word each tick: re-registers what a restarted router forgot, retires what it drains, removes a stale backend at a new instance's address", async () => {
    const { clock, membership, make } = setup();
    const r = make();
    // A dead instance's backend left at the address the cloud now gives i-1 (the router refuses two backends at one address).
    membership.registered.add('i-dead');
    membership.urls.set('i-dead', 'http://10.0.0.1:8000');
    await r.reconcile({ cpu: 2 }, 1);
    clock.advanceTo(60_000);
    await r.reconcile({ cpu: 2 }, 1);
    assert.ok(membership.log.indexOf('deregister i-dead') >= 0 && membership.log.indexOf('deregister i-dead') < membership.log.indexOf('register i-1'), membership.log.join(', '));
    assert.deepEqual([...membership.registered].sort(), ['i-1', 'i-2']);

    // The router restarted and holds nothing: both are registered again.
    membership.forget();
    clock.advanceTo(90_000);
    await r.reconcile({ cpu: 2 }, 1);
    assert.deepEqual([...membership.registered].sort(), ['i-1', 'i-2']);

    // The router drains i-2 (a drain whose answer was lost, or one by hand): it is retired and replaced.
    membership.drained.add('i-2');
    clock.advanceTo(120_000);
    const next = await r.reconcile({ cpu: 2 }, 1);
    assert.deepEqual(next.actions.map((a) => `${a.kind} ${a.kind === 'launch' ? a.count : a.id}`).sort(), ['launch 1', 'terminate i-2']);
  });

  it('tells the router to forget an instance that died, but not in a dry run', async () => {
    const { clock, cloud, membership, serving } = setup();
    const r = await serving();
    cloud.kill('i-1');
    clock.advanceTo(90_000);
    await r.reconcile({ cpu: 2 }, 1, { dryRun: true });
    assert.ok(!membership.log.includes('deregister i-1'), 'a dry run changes nothing at the router');
    await r.reconcile({ cpu: 2 }, 1);
    assert.ok(membership.log.includes('deregister i-1'));
  });

  it('takes an instance for gone only when two listings in a row miss it: a drain in progress survives one that does', async () => {
    const { clock, cloud, membership, serving } = setup();
    const r = await serving();
    membership.inFlightById.set('i-2', 3);
    const drained = await r.reconcile({ cpu: 1 }, 1);
    assert.ok(drained.actions.some((a) => a.kind === 'drain' && a.id === 'i-2'));
    const list = cloud.list.bind(cloud);
    cloud.list = async () => (await list()).filter((i) => i.id !== 'i-2');
    clock.advanceTo(70_000);
    await r.reconcile({ cpu: 1 }, 1);
    cloud.list = list;
    clock.advanceTo(80_000);
    const next = await r.reconcile({ cpu: 1 }, 1);
    assert.ok(!membership.log.includes('deregister i-2'), membership.log.join(', '));
    assert.deepEqual(next.actions.filter((a) => a.kind === 'launch' || a.id === 'i-2'), [], 'still draining, with requests in flight');
  });

  it('holds a launch whose answer was lost as pending until sending it again settles it: launched, refused or timed out', async () => {
    const lost = (): MixscaleError => new MixscaleError('MIXSCALE_CLOUD_API', 'RunInstances: TimeoutError: socket hang up', { retryable: true, outcomeUnknown: true });
    const { clock, cloud, make } = setup();
    const r = make();
    const launch = cloud.launch.bind(cloud);
    // 1. Launched at the cloud, answer lost: the next look sends it again and gets the same two back.
    let mode: 'lose-answer' | 'unknown' | 'refuse' | 'ok' = 'lose-answer';
    cloud.launch = async (spec) => {
      if (mode === 'ok') return launch(spec);
      if (mode === 'lose-answer') {
        await launch(spec);
        throw lost();
      }
      cloud.calls.launch.push(spec);
      throw mode === 'unknown' ? lost() : new MixscaleError('MIXSCALE_CLOUD_API', 'RunInstances: UnauthorizedOperation', { retryable: false, outcomeUnknown: false });
    };
    const first = await r.reconcile({ cpu: 2 }, 1);
    assert.equal(first.failures.length, 1);
    mode = 'ok';
    const fleet = await r.fleet();
    assert.deepEqual(fleet.map((i) => i.id).sort(), ['i-1', 'i-2'], 'the same instances, not new ones');
    assert.equal(cloud.calls.launch[1]!.clientToken, cloud.calls.launch[0]!.clientToken);
    assert.deepEqual((await r.reconcile({ cpu: 2 }, 1, { fleet })).actions.filter((a) => a.kind === 'launch'), []);

    // 2. Unknown again and again: held (counted against the budget, never launched anew) until the launch timeout.
    mode = 'unknown';
    await r.reconcile({ cpu: 4 }, 1);
    clock.advanceTo(30_000);
    const held = await r.reconcile({ cpu: 4 }, 1);
    assert.deepEqual(held.actions.filter((a) => a.kind === 'launch'), []);
    assert.ok(Math.abs(held.spendUsdPerHour - 0.4) < 1e-9, `${held.spendUsdPerHour}`);
    assert.ok(held.failures.some((f) => /socket hang up/.test(f.message)), 'the failed resend is reported');
    clock.advanceTo(400_000);
    mode = 'ok';
    const after = await r.reconcile({ cpu: 4 }, 1);
    assert.deepEqual(after.actions.filter((a) => a.kind === 'launch').map((a) => a.kind === 'launch' && a.count), [2], 'forgotten after the launch timeout, launched anew');

    // 3. Refused when sent again: nothing was launched, so the deficit is launched at once.
    mode = 'unknown';
    await r.reconcile({ cpu: 6 }, 1);
    mode = 'refuse';
    clock.advanceTo(430_000);
    const refused = await r.reconcile({ cpu: 6 }, 1);
    assert.ok(refused.failures.some((f) => /UnauthorizedOperation/.test(f.message)));
    assert.deepEqual(refused.actions.filter((a) => a.kind === 'launch').map((a) => a.kind === 'launch' && a.count), [2]);
  });

  for (const [from, to] of [[{ gpu: 1 }, { cpu: 5 }], [{ cpu: 4 }, { gpu: 1 }]] as const) {
    it(`reaches ${JSON.stringify(to)} from ${JSON.stringify(from)} under a budget that never holds both`, async () => {
      const { clock, cloud, make } = setup();
      const r = make();
      await r.reconcile(from, 0.55);
      clock.advanceTo(60_000);
      for (let k = 0; k < 12; k++) {
        await r.reconcile(to, 0.55);
        assert.ok(cloud.spend() <= 0.55 + 1e-9, `spend ${cloud.spend()} over budget at ${clock.now()}`);
        clock.advanceTo(clock.now() + 30_000);
      }
      const counts: Record<string, number> = {};
      for (const i of await cloud.list()) if (i.state === 'running') counts[i.type] = (counts[i.type] ?? 0) + 1;
      assert.deepEqual(counts, to);
    });
  }

  it('keeps the billed spend within budget through a mix change, tick after tick', async () => {
    const { clock, cloud, membership, make } = setup();
    const r = make();
    const mixes: Mix[] = [{ gpu: 2 }, { gpu: 1, cpu: 5 }, { cpu: 10 }, { gpu: 2 }];
    for (const mix of mixes) {
      for (let k = 0; k < 12; k++) {
        await r.reconcile(mix, 1.0);
        assert.ok(cloud.spend() <= 1.0 + 1e-9, `spend ${cloud.spend()} over budget at ${clock.now()}`);
        clock.advanceTo(clock.now() + 30_000);
      }
      const live = (await cloud.list()).filter((i) => i.state === 'running');
      const counts: Record<string, number> = {};
      for (const i of live) counts[i.type] = (counts[i.type] ?? 0) + 1;
      assert.deepEqual(counts, mix);
    }
    assert.ok(membership.log.length > 0);
  });
});
