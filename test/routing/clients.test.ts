import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { MixscaleError } from '../../src/core/errors.ts';
import { LatencyHistogram } from '../../src/core/histogram.ts';
import type { Instance } from '../../src/core/types.ts';
import { RouterAdminClient } from '../../src/routing/admin-client.ts';
import type { RouterServer } from '../../src/routing/server.ts';
import { pmfFromCounts, RouterSnapshotSource } from '../../src/routing/snapshot-client.ts';
import type { RouterSnapshot } from '../../src/routing/snapshot.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { ADMIN_TOKEN, FirstAvailable, startRouter } from './harness.ts';

function instance(id: string, address: string | undefined): Instance {
  return { id, type: 'r5n.large', pool: 'cpu', state: 'running', launchedAtMs: 0, usdPerHour: 0.149, ...(address !== undefined ? { address } : {}) };
}

describe('router clients for the controller', () => {
  let router: RouterServer;
  let url: string;
  let a: FakeBackend;

  beforeEach(async () => {
    a = await new FakeBackend('a').start();
    ({ server: router, url } = await startRouter({}, { policy: new FirstAvailable() }));
  });

  afterEach(async () => {
    await router.close();
    await a.stop();
  });

  describe('RouterAdminClient (FleetMembership)', () => {
    it('registers an instance by its address, drains it and deregisters it', async () => {
      const fleet = new RouterAdminClient({ routerUrl: url, token: ADMIN_TOKEN });
      await fleet.register(instance('i-1', a.url.replace('http://', '')));
      await fleet.register(instance('i-1', a.url.replace('http://', '')));
      const [b] = await fleet.list();
      assert.deepEqual([b?.id, b?.type, b?.pool, b?.url], ['i-1', 'r5n.large', 'cpu', a.url]);
      a.behaviour.delayMs = 150;
      const pending = request(url).post('/v2/models/rm2/infer').send(inferBody(1)).then((r) => r);
      while (a.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual([...(await fleet.members())], [['i-1', { url: a.url, draining: false }]]);
      await fleet.drain('i-1');
      assert.deepEqual([...(await fleet.members())], [['i-1', { url: a.url, draining: true }]]);
      assert.equal(await fleet.inFlight('i-1'), 1);
      assert.equal((await pending).status, 200);
      assert.equal(await fleet.inFlight('i-1'), 0);
      await fleet.deregister('i-1');
      assert.deepEqual(await fleet.list(), []);
    });

    it('treats unknown ids as already gone: in-flight 0, drain and deregister succeed', async () => {
      const fleet = new RouterAdminClient({ routerUrl: url, token: ADMIN_TOKEN });
      assert.equal(await fleet.inFlight('nope'), 0);
      await fleet.drain('nope');
      await fleet.deregister('nope');
    });

    it('fails with a clear error on a wrong token or an instance without an address', async () => {
      const wrong = new RouterAdminClient({ routerUrl: url, token: 'wrong-token-wrong-token' });
      await assert.rejects(wrong.list(), (e: unknown) => e instanceof MixscaleError && /answered 401/.test(e.message));
      const fleet = new RouterAdminClient({ routerUrl: url, token: ADMIN_TOKEN });
      await assert.rejects(fleet.register(instance('i-2', undefined)), /no address/);
    });
  });

  describe('RouterSnapshotSource (MetricsSource)', () => {
    it('round-trips windowed load: rates, sizes and HDR latency histograms', async () => {
      router.backends.add({ id: 'a', url: a.url, type: 'g4dn.xlarge' });
      a.behaviour.delayMs = 20;
      for (const size of [10, 10, 200]) await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { size }));
      await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { class: 'batch', size: 500 }));

      const raw = (await request(url).get('/v1/snapshot')).body as RouterSnapshot;
      const interactive = raw.classes.find((c) => c.name === 'interactive')!;
      assert.deepEqual(interactive.sizes, [
        [10, 2],
        [200, 1],
      ]);
      assert.equal(interactive.arrivals, 3);
      assert.equal(interactive.completed, 3);
      const decoded = LatencyHistogram.decode(interactive.latency);
      assert.equal(decoded.count, 3);
      assert.ok(decoded.minMs >= 20, `min latency ${decoded.minMs}`);

      const obs = await new RouterSnapshotSource({ routerUrl: url }).observe(0);
      const [i, b] = obs.load.classes;
      assert.equal(i!.name, 'interactive');
      assert.deepEqual([...i!.sizes.sizes], [10, 200]);
      assert.deepEqual([...i!.sizes.weights].map((w) => Math.round(w * 3)), [2, 1]);
      assert.equal(i!.latency!.count, 3);
      assert.ok(i!.rps > 0);
      assert.equal(b!.name, 'batch');
      assert.equal(b!.latency!.count, 1);
      assert.ok(obs.load.windowMs > 0 && obs.load.windowMs <= 60_000);
      assert.ok(obs.utilization !== undefined && 'g4dn.xlarge' in obs.utilization);
    });

    it('fails with a clear error when the answer is not a snapshot', async () => {
      const other = new FakeBackend('not-a-router');
      await other.start();
      try {
        // The fake backend answers every path with an inference response.
        await assert.rejects(new RouterSnapshotSource({ routerUrl: other.url }).observe(0), /is not a mixscale snapshot/);
        await assert.rejects(new RouterAdminClient({ routerUrl: other.url, token: ADMIN_TOKEN }).members(), /GET \S+\/v1\/backends answered without a backends list/);
      } finally {
        await other.stop();
      }
    });

    it('holds (missing data) on a snapshot the planner cannot use, naming the field, rather than plan from it', async () => {
      const real = (await request(url).get('/v1/snapshot')).body as RouterSnapshot;
      const serve = async (body: unknown, o: { classes?: readonly string[]; minWindowMs?: number } = {}): Promise<unknown> => {
        const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        try {
          const src = new RouterSnapshotSource({ routerUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ...o });
          return await src.observe(0).then(
            () => undefined,
            (e: unknown) => e,
          );
        } finally {
          await new Promise((r) => server.close(r));
        }
      };
      const withClass = (patch: object): unknown => ({ ...real, windowMs: 60_000, classes: real.classes.map((c, k) => (k === 0 ? { ...c, ...patch } : c)) });
      const refused = (e: unknown, re: RegExp): boolean => e instanceof MixscaleError && e.code === 'MIXSCALE_BACKEND_UNAVAILABLE' && re.test(e.message);
      assert.equal(await serve(withClass({})), undefined, 'a sound snapshot is read');
      assert.ok(refused(await serve(withClass({ rps: -50 })), /classes\[0\]\.rps: expected a rate ≥ 0, got -50/));
      assert.ok(refused(await serve(withClass({ rps: '40' })), /classes\[0\]\.rps: expected a rate ≥ 0, got "40"/));
      assert.ok(refused(await serve(withClass({ rps: null })), /classes\[0\]\.rps/));
      assert.ok(refused(await serve(withClass({ sizes: 'x' })), /classes\[0\]\.sizes/));
      assert.ok(refused(await serve({ ...real, windowMs: -1 }), /windowMs: expected a positive number/));
      assert.ok(refused(await serve({ ...real, windowMs: 60_000, pools: [{ pool: 'gpu', type: 'g4dn.xlarge', backends: 1, completed: 0, utilization: 2, latency: real.classes[0]!.latency }] }), /pools\[0\]\.utilization: expected a busy fraction in \[0, 1\], got 2$/));
      // A router running another config: a class the controller plans for is missing, not idle.
      assert.ok(refused(await serve({ ...real, windowMs: 60_000, classes: [] }, { classes: ['interactive', 'batch'] }), /reports no class "interactive", "batch" of this config \(classes: none\)/));
      assert.ok(refused(await serve(withClass({ name: 'other' }), { classes: ['interactive', 'batch'] }), /reports no class "interactive"/));
      assert.equal(await serve(withClass({}), { classes: ['interactive', 'batch'] }), undefined);
      // A router started moments ago: 3 requests in 5 ms read as 600 rps.
      const young = { ...real, windowMs: 5, classes: real.classes.map((c) => ({ ...c, arrivals: 3, rps: 600 })) };
      assert.ok(refused(await serve(young, { minWindowMs: 2000 }), /covers only 5 ms \(under 2000 ms\): the router started moments ago/));
      assert.equal(await serve({ ...young, windowMs: 2500 }, { minWindowMs: 2000 }), undefined);
    });

    it('gives up on an answer that trickles in past the timeout, snapshot and admin API alike (a tick must not hang on it)', async function () {
      // Without one deadline for the whole call, each call here never ends: this limit fails it.
      this.timeout(30_000);
      // Headers at once, then one byte every 100 ms: never idle for long, never done in time.
      const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 100);
        res.on('close', () => clearInterval(t));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        for (const call of [() => new RouterSnapshotSource({ routerUrl: base, timeoutMs: 400 }).observe(0), () => new RouterAdminClient({ routerUrl: base, token: ADMIN_TOKEN, timeoutMs: 400 }).list()]) {
          await assert.rejects(call(), (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_BACKEND_UNAVAILABLE' && /no whole answer within 400 ms/.test(e.message));
        }
      } finally {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
    });

    it('fails with a clear error when the router cannot be reached', async () => {
      await assert.rejects(new RouterSnapshotSource({ routerUrl: 'http://127.0.0.1:1' }).observe(0), (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_BACKEND_UNAVAILABLE');
    });
  });

  it('bins many distinct sizes into at most 64 equal-mass points that keep the mean', () => {
    const points = Array.from({ length: 500 }, (_, k) => [k + 1, 1] as const);
    const pmf = pmfFromCounts(points);
    assert.ok(pmf.sizes.length <= 64);
    const mean = pmf.sizes.reduce((acc, s, k) => acc + s * pmf.weights[k]!, 0);
    assert.ok(Math.abs(mean - 250.5) < 1e-9, `mean ${mean}`);
    assert.ok(Math.abs(pmf.weights.reduce((x, y) => x + y, 0) - 1) < 1e-12);
  });
});
