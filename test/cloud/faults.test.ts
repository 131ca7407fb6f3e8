import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.ts';
import { Ec2Provider } from '../../src/cloud/aws/ec2-provider.ts';
import { SimClock } from '../../src/core/clock.ts';
import { MixscaleError } from '../../src/core/errors.ts';
import type { Instance, Mix } from '../../src/core/types.ts';
import { ControlLoop } from '../../src/control/loop.ts';
import { instancePrice, Reconciler } from '../../src/control/reconciler.ts';
import type { CandidateType, MetricsSource, Observation, ScalingPolicy } from '../../src/control/types.ts';
import { FakeMembership } from '../support/fake-cloud.ts';
import { FakeEc2 } from './support/fake-ec2.ts';

/**
 * The faults the issue lists, on the AWS path: the real loop and reconciler drive the real
 * EC2 provider against EC2 faked at the network edge, 30 s ticks on a simulated clock.
 */
const catalog = Catalog.load();
const GPU = 'g4dn.xlarge';
const CPU = 'r5n.large';
const TICK_MS = 30_000;

class Load implements MetricsSource {
  rps = 50;
  down = false;
  async observe(nowMs: number): Promise<Observation> {
    if (this.down) throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', 'router snapshot failed: ECONNREFUSED');
    return { load: { atMs: nowMs, windowMs: TICK_MS, classes: [{ name: 'rm2', rps: this.rps, sizes: { sizes: Float64Array.of(200), weights: Float64Array.of(1) } }] } };
  }
}

/** A GPU for the tail plus one CPU per 10 rps; all CPUs when the GPU is out. */
const policy: ScalingPolicy = {
  name: 'faults-test',
  decide(s) {
    const rps = s.load.classes.reduce((a, c) => a + c.rps, 0);
    const gpu = s.candidates.find((c) => c.type === GPU)?.available === true;
    const mix: Mix = gpu ? { [GPU]: 1, [CPU]: Math.ceil(rps / 10) } : { [CPU]: Math.ceil(rps / 10) + 2 };
    return { mix, reason: `${rps} rps` };
  },
};

function world(opts: { budget?: number; prices?: Record<string, number> } = {}) {
  const clock = new SimClock(Date.parse('2026-01-05T00:00:00Z'));
  const ec2 = new FakeEc2(clock, 90_000);
  const membership = new FakeMembership();
  const load = new Load();
  const prices: Record<string, number> = opts.prices ?? { [GPU]: catalog.price(GPU), [CPU]: catalog.price(CPU) };
  let budget = opts.budget ?? 2;
  const priceOf = (t: string) => prices[t] ?? catalog.price(t);
  const candidate = (type: string, pool: string): CandidateType => ({
    pool,
    type,
    usdPerHour: priceOf(type),
    fast: type === GPU,
    slots: 1,
    bootMs: 90_000,
    minCount: 0,
    maxCount: 50,
    available: true,
    profile: () => {
      throw new Error('unused');
    },
  });
  const start = () => {
    const provider = new Ec2Provider({ client: ec2.client, cluster: 'prod', launchTemplateOf: (pool) => `mixscale-${pool}`, priceOf, backendPort: 8000 });
    const reconciler = new Reconciler({ provider, membership, clock, priceOf, poolOf: (t) => (t === GPU ? 'fast' : 'frugal'), launchTimeoutMs: 300_000, drainTimeoutMs: 60_000, cluster: 'prod' });
    return new ControlLoop({
      clock,
      metrics: load,
      policy,
      reconciler,
      classes: [{ name: 'rm2', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 }],
      candidates: () => [candidate(GPU, 'fast'), candidate(CPU, 'frugal')],
      budgetAt: () => budget,
      capacityCooldownMs: 600_000,
    });
  };
  let loop = start();
  /** Live (not shutting down) instances we own, by type, and their spend at today's prices. */
  const owned = () => [...ec2.instances.values()].filter((i) => (i.state === 'pending' || i.state === 'running') && i.tags.some((t) => t.Key === 'mixscale:cluster'));
  const counts = (state?: string) => {
    const m: Record<string, number> = {};
    for (const i of owned()) if (state === undefined || i.state === state) m[i.type] = (m[i.type] ?? 0) + 1;
    return m;
  };
  const spend = () => owned().reduce((s, i) => s + instancePrice({ type: i.type, usdPerHour: 0 } as Instance, priceOf), 0);
  const maxSpend = { v: 0 };
  const ticks = async (n: number) => {
    const out = [];
    for (let k = 0; k < n; k++) {
      out.push(await loop.tick());
      maxSpend.v = Math.max(maxSpend.v, spend());
      clock.advanceTo(clock.now() + TICK_MS);
    }
    return out;
  };
  return {
    clock, ec2, membership, load, prices, counts, spend, maxSpend, ticks,
    setBudget: (b: number) => (budget = b),
    restart: () => (loop = start()),
  };
}

describe('controller faults (AWS path)', () => {
  it('converges on the decided mix, tagging launches with the cluster and pool from the pool’s template', async () => {
    const w = world();
    await w.ticks(6);
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
    const run = w.ec2.runInputs[0]!;
    assert.ok(run.LaunchTemplate?.LaunchTemplateName?.startsWith('mixscale-'));
    const tags = run.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags ?? [];
    assert.ok(tags.some((t) => t.Key === 'mixscale:cluster' && t.Value === 'prod'));
    assert.ok(tags.some((t) => t.Key === 'mixscale:pool'));
    assert.equal(w.membership.registered.size, 6);
  });

  it('rides out API throttling: failed ticks are recorded and the fleet converges after', async () => {
    const w = world();
    w.ec2.throttleNext = 3;
    const recs = await w.ticks(8);
    assert.ok(recs.some((r) => r.status === 'failed' && /RequestLimitExceeded/.test(r.error?.message ?? '')));
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
  });

  it('cools a type down on InsufficientInstanceCapacity and plans with the rest', async () => {
    const w = world();
    w.ec2.noCapacity.add(GPU);
    const [first] = await w.ticks(6);
    assert.deepEqual(first!.unavailable, [GPU]);
    assert.deepEqual(w.counts('running'), { [CPU]: 7 });
  });

  it('treats an Unsupported type like missing capacity', async () => {
    const w = world();
    w.ec2.unsupported.add(GPU);
    await w.ticks(6);
    assert.deepEqual(w.counts('running'), { [CPU]: 7 });
  });

  it('terminates a launch that never reaches running and launches a replacement', async () => {
    const w = world();
    w.ec2.stuck.add(GPU);
    await w.ticks(11); // 300 s launch timeout
    const stuckOnes = [...w.ec2.instances.values()].filter((i) => i.type === GPU);
    assert.ok(stuckOnes.some((i) => i.state === 'shutting-down' || i.state === 'terminated'), 'the hung launch was terminated');
    assert.equal(w.counts()[GPU], 1, 'one replacement GPU is pending');
    w.ec2.stuck.delete(GPU);
    await w.ticks(4);
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
  });

  it('replaces an instance that dies', async () => {
    const w = world();
    await w.ticks(5);
    const victim = [...w.ec2.instances.values()].find((i) => i.type === CPU && i.state === 'running')!;
    w.ec2.kill(victim.id);
    await w.ticks(5);
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
    // The router forgets it too: its address may go to a new instance, which the router would refuse beside it.
    assert.ok(w.membership.log.includes(`deregister ${victim.id}`));
    assert.ok(!w.membership.registered.has(victim.id));
  });

  it('holds the fleet while the router is unreachable, and does not scale to zero', async () => {
    const w = world();
    await w.ticks(5);
    w.load.down = true;
    w.membership.unreachable = true;
    const held = await w.ticks(4);
    assert.ok(held.every((r) => r.status === 'held'));
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
    w.load.down = false;
    w.membership.unreachable = false;
    w.load.rps = 20;
    await w.ticks(6);
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 2 });
  });

  it('does not launch twice when killed mid-reconcile: the restarted controller adopts by tag', async () => {
    const w = world();
    await w.ticks(1);
    const launched = w.counts();
    w.restart();
    await w.ticks(5);
    assert.deepEqual(w.counts(), launched);
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
  });

  it('does not launch twice when RunInstances succeeded but its answer was lost: the ClientToken repeats', async () => {
    const w = world();
    // The launch happens at EC2, the answer is lost, and DescribeInstances lags behind it.
    w.ec2.loseRunAnswers = 1;
    w.ec2.describeLagMs = 45_000;
    const [first] = await w.ticks(1);
    assert.ok(first!.reconcile!.failures.length > 0);
    w.restart();
    await w.ticks(6);
    assert.deepEqual(w.counts(), { [GPU]: 1, [CPU]: 5 });
    const tokens = w.ec2.runInputs.map((r) => r.ClientToken);
    assert.ok(tokens.length > new Set(tokens).size, 'the restarted controller sent a token again');
  });

  it('counts launches DescribeInstances does not show yet: no second launch, within budget', async () => {
    // EC2 is eventually consistent: a launch can be missing from DescribeInstances for a while.
    const lagging = world({ budget: 1.5 });
    lagging.ec2.describeLagMs = 45_000; // longer than a tick
    await lagging.ticks(6);
    assert.equal(lagging.ec2.runInputs.length, 2, 'one RunInstances per type, none repeated');
    assert.deepEqual(lagging.counts('running'), { [GPU]: 1, [CPU]: 5 });
    assert.ok(lagging.maxSpend.v <= 1.5 + 1e-9, `max spend ${lagging.maxSpend.v}`);
    // The same tick's replan after a capacity error must see the CPUs it just launched.
    const replan = world({ budget: 1.5 });
    replan.ec2.describeLagMs = 20_000;
    replan.ec2.noCapacity.add(GPU);
    const [first] = await replan.ticks(1);
    assert.deepEqual(first!.unavailable, [GPU]);
    await replan.ticks(5);
    assert.deepEqual(replan.counts(), { [CPU]: 7 });
    assert.ok(replan.maxSpend.v <= 1.5 + 1e-9, `max spend ${replan.maxSpend.v}`);
  });

  it('settles a launch whose answer was lost by sending it again with its token: no second launch in the replan, within budget', async () => {
    const w = world({ budget: 1.5 });
    w.ec2.describeLagMs = 20_000;
    w.ec2.noCapacity.add(GPU); // the replan after this capacity error ...
    w.ec2.loseRunAnswers = 1; // ... follows a CPU launch that happened at EC2 but whose answer was lost
    await w.ticks(6);
    assert.deepEqual(w.counts(), { [CPU]: 7 });
    assert.ok(w.maxSpend.v <= 1.5 + 1e-9, `max spend ${w.maxSpend.v}`);
    const cpuRuns = w.ec2.runInputs.filter((r) => r.InstanceType === CPU);
    assert.equal(cpuRuns[1]!.ClientToken, cpuRuns[0]!.ClientToken, 'the lost launch was sent again as it was');
  });

  it('forgets a launch EC2 ends at once (not listed, terminated) and cools its type down, instead of holding its money for the launch timeout', async () => {
    const w = world({ budget: 1.5 });
    w.ec2.endAtOnce.add(GPU);
    const decide = policy.decide.bind(policy);
    const decisions: number[] = [];
    policy.decide = (s) => {
      decisions.push(s.nowMs);
      return decide(s);
    };
    let recs;
    try {
      recs = await w.ticks(4);
    } finally {
      policy.decide = decide;
    }
    assert.equal(decisions.length, 4, 'one decision a tick: a type left out before planning needs no replan');
    assert.deepEqual(w.counts(), { [CPU]: 7 });
    assert.ok(recs.some((r) => r.unavailable.includes(GPU)), 'the GPU cools down');
    assert.equal(w.ec2.runInputs.filter((r) => r.InstanceType === GPU).length, 1, 'not launched again within the cooldown');
    assert.ok(recs.flatMap((r) => r.reconcile?.failures ?? []).some((f) => /terminated by the cloud right after its launch/.test(f.message)));
  });

  it('keeps working with an owned instance of a type the catalog lacks, and retires it as part of no pool', async () => {
    const w = world();
    // Tagged into the cluster by hand, or of a type since dropped from the catalog.
    w.ec2.instances.set('i-0odd', { id: 'i-0odd', type: 'zz9.large', state: 'running', launchedAtMs: 0, tags: [{ Key: 'mixscale:cluster', Value: 'prod' }, { Key: 'mixscale:pool', Value: 'frugal' }], ip: '10.1.1.1' });
    const recs = await w.ticks(8);
    assert.deepEqual(recs.filter((r) => r.status !== 'ok').map((r) => r.error?.message), []);
    assert.deepEqual(w.counts('running'), { [GPU]: 1, [CPU]: 5 });
    assert.ok(w.ec2.terminated.flat().includes('i-0odd'));
    assert.ok(w.membership.log.includes('drain i-0odd'), 'drained through the router first');
  });

  it('follows a price change mid-run without going over budget', async () => {
    const w = world({ budget: 2 });
    w.load.rps = 100;
    await w.ticks(6);
    w.prices[CPU] = 0.3;
    await w.ticks(8);
    assert.ok(w.spend() <= 2 + 1e-9, `spend ${w.spend()}`);
  });

  it('scales down when the budget is lowered: drain, then terminate, never over budget after the drain', async () => {
    const w = world({ budget: 2 });
    w.load.rps = 80;
    await w.ticks(6);
    const before = w.spend();
    w.setBudget(1.0);
    const [lowered] = await w.ticks(1);
    assert.ok(lowered!.reconcile!.actions.some((a) => a.kind === 'drain'));
    assert.ok(!lowered!.reconcile!.actions.some((a) => a.kind === 'launch'));
    await w.ticks(4);
    assert.ok(w.spend() <= 1.0 + 1e-9 && w.spend() < before);
    for (const line of w.membership.log.filter((l) => l.startsWith('deregister '))) {
      assert.ok(w.membership.log.includes(`drain ${line.slice(11)}`));
    }
    assert.ok(w.ec2.terminated.flat().every((id) => w.ec2.instances.get(id)!.tags.some((t) => t.Key === 'mixscale:cluster')));
  });

  it('never lets spend exceed the budget while moving between mixes', async () => {
    const w = world({ budget: 1.5 });
    for (const rps of [50, 10, 90, 0, 60]) {
      w.load.rps = rps;
      await w.ticks(8);
    }
    assert.ok(w.maxSpend.v <= 1.5 + 1e-9, `max spend ${w.maxSpend.v}`);
  });
});
