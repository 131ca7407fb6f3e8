import assert from 'node:assert/strict';
import { createRoutingPolicy } from '../../policies/routing/index.ts';
import { ServiceProfiles } from '../../src/catalog/profiles.ts';
import { Rng } from '../../src/core/rng.ts';
import type { Instance } from '../../src/core/types.ts';
import { SimRouter } from '../../sim/router.ts';

const profiles = ServiceProfiles.load();

function router(): { r: SimRouter; joined: string[]; left: string[] } {
  const joined: string[] = [];
  const left: string[] = [];
  const r = new SimRouter({
    policy: createRoutingPolicy('least-outstanding'),
    rng: new Rng(1),
    now: () => 0,
    profileOf: (type, model) => profiles.table(type, model),
    classModels: ['rm2'],
    types: ['g4dn.xlarge', 'r5n.large'],
    typeInfo: (type) => ({ fast: type === 'g4dn.xlarge', slots: 1 }),
    maxOutstandingPerSlot: 2,
    onJoin: (n) => joined.push(n.instance.id),
    onLeave: (n) => left.push(n.instance.id),
  });
  return { r, joined, left };
}

function instance(id: string, type = 'r5n.large'): Instance {
  return { id, type, pool: 'p', state: 'running', launchedAtMs: 0, usdPerHour: 0.149 };
}

describe('simulated router (fleet membership)', () => {
  it('routes only to registered backends, and registers idempotently', async () => {
    const { r, joined } = router();
    assert.equal(r.route(0, 100, 0, 350), null);
    assert.equal(r.lastReject, 'no-backend');
    await r.register(instance('i-1'));
    await r.register(instance('i-1'));
    assert.deepEqual(joined, ['i-1']);
    const node = r.route(0, 100, 0, 350);
    assert.equal(node?.instance.id, 'i-1');
    // The expected service time is the profile's mean for the size (PoolTracker's bookkeeping).
    assert.equal(r.lastExpectedMs, profiles.table('r5n.large', 'rm2').meanMs(100));
  });

  it('stops routing to a drained backend and reports its in-flight count', async () => {
    const { r, left } = router();
    await r.register(instance('i-1'));
    await r.register(instance('i-2'));
    const n = r.route(0, 100, 0, 350)!;
    r.tracker.dispatched(n.backend, r.lastExpectedMs);
    await r.drain(n.instance.id);
    assert.deepEqual(left, [n.instance.id]);
    assert.equal(await r.inFlight(n.instance.id), 1);
    for (let i = 0; i < 2; i++) assert.notEqual(r.route(0, 100, 0, 350)?.instance.id, n.instance.id);
    r.tracker.finished(n.backend, r.lastExpectedMs);
    assert.equal(await r.inFlight(n.instance.id), 0);
    await r.deregister(n.instance.id);
    assert.deepEqual(left, [n.instance.id], 'capacity leaves once');
    assert.equal(await r.inFlight('unknown'), 0);
  });

  it('rejects when every backend holds its maximum outstanding', async () => {
    const { r } = router();
    await r.register(instance('i-1'));
    for (let i = 0; i < 2; i++) {
      const n = r.route(0, 100, 0, 350)!;
      r.tracker.dispatched(n.backend, r.lastExpectedMs);
    }
    assert.equal(r.route(0, 100, 0, 350), null);
    assert.equal(r.lastReject, 'overloaded');
  });

  it('hands back a terminated instance\'s node so its work can be failed', async () => {
    const { r, left } = router();
    await r.register(instance('i-1', 'g4dn.xlarge'));
    const node = r.gone('i-1')!;
    assert.equal(node.gone, true);
    assert.deepEqual(left, ['i-1']);
    assert.equal(r.route(0, 100, 0, 350), null);
    assert.equal(r.gone('never-registered'), undefined);
  });
});
