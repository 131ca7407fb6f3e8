import assert from 'node:assert/strict';
import request from 'supertest';
import { createRoutingPolicy, routingPolicyNames } from '../../policies/routing/index.ts';
import { Rng } from '../../src/core/rng.ts';
import { RouterServer } from '../../src/routing/server.ts';
import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import { SimRouter } from '../../sim/router.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { testConfig } from './harness.ts';

interface Call {
  readonly req: Omit<RoutableRequest, 'arrivalMs' | 'deadlineMs'> & { budgetMs: number };
  readonly view: string;
  readonly expectedMs: number[];
  readonly picked: string | null;
}

/** Wraps a registry policy and writes down what it was asked and what it answered. */
class Recording implements RoutingPolicy {
  readonly calls: Call[] = [];
  constructor(readonly inner: RoutingPolicy) {}
  get name(): string {
    return this.inner.name;
  }
  lastRejectReason?: RejectReason;
  pick(req: RoutableRequest, view: PoolView): BackendState | null {
    const b = this.inner.pick(req, view);
    if (this.inner.lastRejectReason !== undefined) this.lastRejectReason = this.inner.lastRejectReason;
    this.calls.push({
      req: { model: req.model, classIndex: req.classIndex, size: req.size, critical: req.critical, budgetMs: req.deadlineMs - req.arrivalMs },
      view: JSON.stringify(view.backends.map((x) => [x.id, x.type, x.pool, x.fast, x.slots, x.maxOutstanding, x.outstanding, x.pendingWorkMs, x.accepting])),
      expectedMs: view.backends.map((x) => view.expectedServiceMs(x, req)),
      picked: b?.id ?? null,
    });
    return b;
  }
}

const FLEET = [
  { id: 'g0', type: 'g4dn.xlarge', pool: 'gpu' },
  { id: 'r0', type: 'r5n.large', pool: 'cpu' },
  { id: 'r1', type: 'r5n.large', pool: 'cpu' },
] as const;

describe('router and simulator share the routing policy code', () => {
  it('builds its policy from the same registry the simulator uses (routing.policy)', async () => {
    for (const name of routingPolicyNames()) {
      const loaded = testConfig();
      const router = new RouterServer({ ...loaded, config: { ...loaded.config, routing: { policy: name, options: {}, lateBinding: false, maxWaiting: 1000 } } }, { healthChecks: false });
      assert.equal(router.policy.constructor, createRoutingPolicy(name).constructor, name);
      await router.close();
    }
  });

  for (const [name, lateBinding] of routingPolicyNames().flatMap((n) => [[n, false], [n, true]] as const)) {
    it(`${name}${lateBinding ? ' (late binding)' : ''}: the HTTP router and the simulated router ask it the same question and follow the same answer`, async () => {
      const backends = await Promise.all(FLEET.map((f) => new FakeBackend(f.id).start()));
      const httpPolicy = new Recording(createRoutingPolicy(name));
      const loaded = testConfig({ maxOutstanding: 8 }, { lateBinding });
      const router = new RouterServer(loaded, { policy: httpPolicy, healthChecks: false, rng: new Rng(3) });
      const url = await router.listen(0, '127.0.0.1');
      FLEET.forEach((f, i) => router.backends.add({ id: f.id, url: backends[i]!.url, type: f.type, pool: f.pool }));

      const simPolicy = new Recording(createRoutingPolicy(name));
      const sim = new SimRouter({
        policy: simPolicy,
        rng: new Rng(3),
        now: () => 0,
        profileOf: (type, model) => loaded.profiles.table(type, model),
        classModels: loaded.config.classes.map((c) => c.model),
        types: ['g4dn.xlarge', 'r5n.large'],
        typeInfo: (type) => ({ fast: loaded.catalog.isAccelerated(type), slots: 1 }),
        // What sim/runner.ts passes: with late binding a backend holds one request per slot.
        maxOutstandingPerSlot: lateBinding ? 1 : 8,
      });
      sim.tracker.lateBinding = lateBinding;
      for (const f of FLEET) await sim.register({ id: f.id, type: f.type, pool: f.pool, state: 'running', launchedAtMs: 0, usdPerHour: 1 });

      try {
        for (const [size, cls] of [
          [200, 'interactive'],
          [30, 'interactive'],
          [700, 'batch'],
        ] as const) {
          const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { size, class: cls }));
          const ci = loaded.config.classes.findIndex((c) => c.name === cls);
          const node = sim.route(ci, size, 0, loaded.config.classes[ci]!.slo);
          const http = httpPolicy.calls.at(-1)!;
          const simCall = simPolicy.calls.at(-1)!;
          assert.deepEqual(http, simCall);
          if (http.picked !== null) {
            assert.equal(res.headers['x-mixscale-backend'], http.picked);
            assert.equal(node?.instance.id, http.picked);
          }
        }
        assert.equal(httpPolicy.calls.length, 3);
      } finally {
        await router.close();
        await Promise.all(backends.map((b) => b.stop()));
      }
    });
  }
});
