import assert from 'node:assert/strict';
import { createRoutingPolicy, routingPolicyNames } from '../../../policies/routing/index.ts';
import { ServiceProfiles } from '../../../src/catalog/profiles.ts';
import { sizeSampler } from '../../../src/core/sizes.ts';
import { Rng } from '../../../src/core/rng.ts';
import { PoolTracker } from '../../../src/routing/pool.ts';
import type { BackendState, RejectReason, RoutableRequest } from '../../../src/routing/types.ts';

/**
 * One suite, every routing policy in the registry: whatever a policy does to choose, it must
 * keep these promises, because the HTTP router and the simulator both rely on them.
 */
const profiles = ServiceProfiles.load();
const REASONS: ReadonlySet<RejectReason> = new Set(['no-backend', 'deadline', 'overloaded']);
const kairosSize = sizeSampler({ kind: 'kairos' });

function tracker(seed = 7, now = 0): PoolTracker {
  return new PoolTracker({ rng: new Rng(seed), now: () => now, profileOf: (type, model) => (profiles.has(type, model) ? profiles.table(type, model) : undefined) });
}

/** Kairos' setup: 3 × g4dn.xlarge (fast) and 6 × r5n.large (frugal). */
function kairosFleet(t: PoolTracker, maxOutstanding = 8): BackendState[] {
  const out: BackendState[] = [];
  for (let i = 0; i < 3; i++) out.push(t.add({ id: `g${i}`, type: 'g4dn.xlarge', pool: 'gpu', fast: true, slots: 1, maxOutstanding }));
  for (let i = 0; i < 6; i++) out.push(t.add({ id: `r${i}`, type: 'r5n.large', pool: 'cpu', fast: false, slots: 1, maxOutstanding }));
  return out;
}

function req(size: number, over: Partial<RoutableRequest> = {}): RoutableRequest {
  return { model: 'rm2', classIndex: 0, size, arrivalMs: 0, deadlineMs: Infinity, critical: false, ...over };
}

/** Random outstanding work and some backends not accepting, from a seed. */
function scramble(backends: BackendState[], rng: Rng): void {
  for (const b of backends) {
    b.outstanding = rng.int(b.maxOutstanding + 1);
    b.pendingWorkMs = b.outstanding * 50 * rng.next();
    b.accepting = rng.next() > 0.25;
  }
}

function frozen(backends: readonly BackendState[]): string {
  return JSON.stringify(backends.map((b) => [b.id, b.outstanding, b.pendingWorkMs, b.accepting]));
}

describe('routing policy contract', () => {
  it('runs against at least the baseline policies', () => {
    for (const name of ['round-robin', 'least-outstanding', 'p2c']) assert.ok(routingPolicyNames().includes(name), `${name} is registered`);
  });

  it('refuses a name that is not a policy, object property names included (constructor, __proto__, toString)', () => {
    for (const name of ['nope', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.throws(() => createRoutingPolicy(name), (e: unknown) => e instanceof Error && e.message.startsWith(`unknown routing policy "${name}"; available: `), name);
    }
  });

  for (const name of routingPolicyNames()) {
    describe(name, () => {
      it('is created from the registry with default options and reports its name', () => {
        assert.equal(createRoutingPolicy(name).name, name);
      });

      it('names an option it does not take', () => {
        assert.throws(() => createRoutingPolicy(name, { thresholdd: 1 }), (e: unknown) => e instanceof Error && e.message.startsWith(`routing.options.thresholdd: not an option of ${name}`));
      });

      it('picks only accepting backends with room, from the view it was given', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker();
        const fleet = kairosFleet(t);
        const rng = new Rng(42);
        let picked = 0;
        for (let i = 0; i < 500; i++) {
          scramble(fleet, rng);
          const r = req(kairosSize(rng), { critical: rng.next() < 0.2 });
          const b = policy.pick(r, t);
          if (b === null) {
            assert.ok(policy.lastRejectReason !== undefined && REASONS.has(policy.lastRejectReason), `reject reason ${String(policy.lastRejectReason)}`);
            continue;
          }
          picked++;
          assert.ok(fleet.includes(b), 'the pick is one of the view’s backends');
          assert.ok(b.accepting, `${b.id} accepts`);
          assert.ok(b.outstanding < b.maxOutstanding, `${b.id} has room`);
        }
        assert.ok(picked > 250, `picked ${picked} of 500`);
      });

      it('never changes the view it reads', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker();
        const fleet = kairosFleet(t);
        const rng = new Rng(3);
        for (let i = 0; i < 100; i++) {
          scramble(fleet, rng);
          const before = frozen(fleet);
          policy.pick(req(kairosSize(rng)), t);
          assert.equal(frozen(fleet), before);
        }
      });

      it('rejects with no-backend when nothing accepts, and never picks a draining backend', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker();
        const fleet = kairosFleet(t);
        for (const b of fleet) t.drain(b.id);
        assert.equal(policy.pick(req(100), t), null);
        assert.equal(policy.lastRejectReason, 'no-backend');
        // Only the slowest, busiest backend is left: still preferred over the idle draining ones.
        const last = fleet[fleet.length - 1]!;
        last.accepting = true;
        last.outstanding = 5;
        for (let i = 0; i < 20; i++) assert.equal(policy.pick(req(100 + i * 10), t), last);
      });

      it('rejects, with a reason, when every accepting backend is at its outstanding limit', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker();
        for (const b of kairosFleet(t, 2)) b.outstanding = 2;
        assert.equal(policy.pick(req(100), t), null);
        assert.ok(policy.lastRejectReason === 'overloaded' || policy.lastRejectReason === 'no-backend', String(policy.lastRejectReason));
      });

      it('places every request without a deadline until the whole fleet is at its limit', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker();
        const fleet = kairosFleet(t, 4);
        const rng = new Rng(11);
        const capacity = fleet.reduce((a, b) => a + b.maxOutstanding, 0);
        for (let i = 0; i < capacity; i++) {
          const r = req(kairosSize(rng));
          const b = policy.pick(r, t);
          assert.ok(b !== null, `request ${i} of ${capacity} placed (reason ${String(policy.lastRejectReason)})`);
          t.dispatched(b, t.expectedServiceMs(b, r));
        }
        assert.ok(fleet.every((b) => b.outstanding === b.maxOutstanding));
        assert.equal(policy.pick(req(100), t), null);
      });

      it('makes the same choices for the same seed and state (reproducible simulations)', () => {
        const run = (): string[] => {
          const policy = createRoutingPolicy(name);
          const t = tracker(5);
          const fleet = kairosFleet(t, 16);
          const rng = new Rng(9);
          const ids: string[] = [];
          for (let i = 0; i < 200; i++) {
            const r = req(kairosSize(rng), { critical: i % 7 === 0 });
            const b = policy.pick(r, t);
            ids.push(b?.id ?? 'null');
            if (b !== null) t.dispatched(b, t.expectedServiceMs(b, r));
            if (i % 3 === 0) {
              const done = fleet[rng.int(fleet.length)]!;
              if (done.outstanding > 0) t.finished(done, 30);
            }
          }
          return ids;
        };
        assert.deepEqual(run(), run());
      });

      it('does not throw on a type without a service-time profile', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker();
        t.add({ id: 'mystery', type: 'x9.unprofiled', pool: 'x', fast: false, slots: 1, maxOutstanding: 4 });
        const b = policy.pick(req(100), t);
        assert.ok(b === null || b.id === 'mystery');
        kairosFleet(t);
        const c = policy.pick(req(100), t);
        assert.ok(c !== null && c.accepting);
      });

      it('answers a request that cannot meet its deadline with a pick from the view or a reasoned rejection', () => {
        const policy = createRoutingPolicy(name);
        const t = tracker(1, 1000);
        kairosFleet(t);
        const b = policy.pick(req(1000, { arrivalMs: 1000, deadlineMs: 1001 }), t);
        if (b === null) assert.ok(policy.lastRejectReason !== undefined && REASONS.has(policy.lastRejectReason));
        else assert.ok(t.backends.includes(b));
      });
    });
  }
});
