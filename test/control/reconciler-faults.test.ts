import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.ts';
import { Ec2Provider } from '../../src/cloud/aws/ec2-provider.ts';
import { SimClock } from '../../src/core/clock.ts';
import { Reconciler } from '../../src/control/reconciler.ts';
import { awsError, FakeEc2 } from '../cloud/support/fake-ec2.ts';
import { FakeMembership } from '../support/fake-cloud.ts';

/**
 * Faults on the EC2 path, one reconcile at a time: the real reconciler over the real EC2
 * provider, EC2 faked at the network edge (aws-sdk-client-mock), 30 s between looks.
 */
const catalog = Catalog.load();
const GPU = 'g4dn.xlarge';
const CPU = 'r5n.large';

function world(budget: number) {
  const clock = new SimClock(Date.parse('2026-01-05T00:00:00Z'));
  const ec2 = new FakeEc2(clock, 90_000);
  const membership = new FakeMembership();
  const priceOf = (t: string) => catalog.price(t);
  const provider = new Ec2Provider({ client: ec2.client, cluster: 'prod', launchTemplateOf: (pool) => `mixscale-${pool}`, priceOf, backendPort: 8000 });
  const reconciler = new Reconciler({ provider, membership, clock, priceOf, poolOf: (t) => (t === GPU ? 'fast' : 'frugal'), launchTimeoutMs: 300_000, drainTimeoutMs: 60_000, cluster: 'prod' });
  const owned = () => [...ec2.instances.values()].filter((i) => (i.state === 'pending' || i.state === 'running') && i.tags.some((t) => t.Key === 'mixscale:cluster' && t.Value === 'prod'));
  const count = (type: string) => owned().filter((i) => i.type === type).length;
  const spend = () => owned().reduce((s, i) => s + priceOf(i.type), 0);
  let peak = 0;
  const most: Record<string, number> = {};
  const step = async (desired: Record<string, number>) => {
    const r = await reconciler.reconcile(desired, budget);
    peak = Math.max(peak, spend());
    for (const t of [GPU, CPU]) most[t] = Math.max(most[t] ?? 0, count(t));
    clock.advanceTo(clock.now() + 30_000);
    return r;
  };
  return { clock, ec2, membership, reconciler, count, spend, step, peak: () => peak, most };
}

describe('reconciler faults on the EC2 path', () => {
  it('keeps a lost launch held when sending it again is throttled: throttling says nothing of the first call', async () => {
    const w = world(0.9);
    w.ec2.describeLagMs = 70_000; // the listing lags the launch
    w.ec2.loseRunAnswers = 1; // CPU×3 launched at EC2, the answer lost (500)
    await w.step({ [CPU]: 3 });
    assert.equal(w.count(CPU), 3);
    let throttled = 0;
    w.ec2.fault = (call) => {
      if (call === 'RunInstances' && throttled++ === 0) throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    };
    // The decision moves by one: a fresh token would launch all four again beside the three.
    const r = await w.step({ [CPU]: 4 });
    assert.ok(r.failures.some((f) => /RequestLimitExceeded/.test(f.message)), 'the throttled resend is reported');
    for (let k = 0; k < 4; k++) await w.step({ [CPU]: 4 });
    assert.equal(w.most[CPU], 4, 'never more CPUs launched than decided');
    assert.equal(w.count(CPU), 4);
    assert.ok(w.peak() <= 0.9 + 1e-9, `peak spend ${w.peak()}`);
  });

  it('terminates the rest of a batch when TerminateInstances refuses one instance of it', async () => {
    const w = world(2);
    for (let k = 0; k < 5; k++) await w.step({ [CPU]: 4 });
    assert.equal(w.membership.registered.size, 4);
    const drained = (await w.step({ [CPU]: 1 })).actions.filter((a) => a.kind === 'drain').map((a) => a.id);
    assert.equal(drained.length, 3);
    const stuck = drained[0]!;
    // Termination protection on one of them (or an IAM condition it does not meet): EC2 fails the whole call.
    w.ec2.fault = (call, input) => {
      if (call === 'TerminateInstances' && ('InstanceIds' in input ? (input.InstanceIds ?? []) : []).includes(stuck)) {
        throw awsError('OperationNotPermitted', `The instance '${stuck}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
      }
    };
    const r = await w.step({ [CPU]: 1 });
    assert.deepEqual(r.failures.map((f) => f.action.kind === 'terminate' && f.action.id), [stuck], 'only the refused one fails');
    assert.match(r.failures[0]!.message, /TerminateInstances: OperationNotPermitted/);
    assert.deepEqual(w.ec2.terminated.flat().sort(), drained.filter((id) => id !== stuck).sort());
    assert.equal(w.count(CPU), 2, 'the one it may not terminate is still billed, the others are gone');
  });
});

describe('reconciler faults on the EC2 path: listings', () => {
  it('does not replace an instance that one DescribeInstances answer misses (eventual consistency): no launch beside it over the budget', async () => {
    const w = world(1.3);
    for (let k = 0; k < 5; k++) await w.step({ [GPU]: 1, [CPU]: 5 });
    assert.equal(w.membership.registered.size, 6);
    const gpu = [...w.ec2.instances.values()].find((i) => i.type === GPU)!.id;
    w.ec2.missNext.add(gpu); // the next listing leaves the GPU out, then all is as before
    const missed = await w.step({ [GPU]: 1, [CPU]: 5 });
    assert.deepEqual(missed.actions.filter((a) => a.kind === 'launch'), [], 'one miss is not proof the GPU is gone');
    for (let k = 0; k < 3; k++) await w.step({ [GPU]: 1, [CPU]: 5 });
    assert.equal(w.most[GPU], 1);
    assert.ok(w.peak() <= 1.3 + 1e-9, `peak spend ${w.peak()}`);
    assert.ok(w.membership.registered.has(gpu), 'still served');
  });

  it('replaces an instance two listings in a row miss (it died)', async () => {
    const w = world(1.3);
    for (let k = 0; k < 5; k++) await w.step({ [GPU]: 1, [CPU]: 5 });
    const gpu = [...w.ec2.instances.values()].find((i) => i.type === GPU)!.id;
    w.ec2.kill(gpu);
    await w.step({ [GPU]: 1, [CPU]: 5 });
    const second = await w.step({ [GPU]: 1, [CPU]: 5 });
    assert.deepEqual(second.actions.filter((a) => a.kind === 'launch').map((a) => a.kind === 'launch' && `${a.count}×${a.type}`), [`1×${GPU}`]);
    assert.ok(w.membership.log.includes(`deregister ${gpu}`));
  });

  it('does not count a lost launch twice once the listing shows its instances while the resends get no answer: they are not terminated as surplus', async () => {
    const w = world(1.5);
    w.ec2.loseRunAnswers = 1; // CPU×3 launched at EC2, the answer lost (500)
    await w.step({ [CPU]: 3 });
    const launched = [...w.ec2.instances.values()].filter((i) => i.type === CPU).map((i) => i.id);
    assert.equal(launched.length, 3);
    let lost = 3; // the resends with its token get no answer either (a network error)
    w.ec2.fault = (call) => {
      if (call === 'RunInstances' && lost-- > 0) throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError', $metadata: {} });
    };
    for (let k = 0; k < 8; k++) {
      const r = await w.step({ [CPU]: 3 });
      assert.deepEqual(r.actions.filter((a) => a.kind === 'terminate' || a.kind === 'launch'), [], `look ${k}: the listed three are the lost launch's, not a surplus beside it`);
    }
    assert.deepEqual(w.ec2.terminated, []);
    assert.equal(w.count(CPU), 3);
    assert.deepEqual([...w.membership.registered].sort(), [...launched].sort());
  });
});
