import assert from 'node:assert/strict';
import { loadConfigObject } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';
import { Rng } from '../../src/core/rng.ts';
import { PoolTracker } from '../../src/routing/pool.ts';
import { RouterServer } from '../../src/routing/server.ts';
import type { RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import { WaitQueue } from '../../src/routing/waiting.ts';
import { type FakeBackend, inferBody } from './fake-backend.ts';
import { ADMIN_TOKEN, routerTestbed } from './harness.ts';
import { EDGE_PROFILE, twoModelConfig } from './two-models.ts';

function req(model: string, arrivalMs = 0): RoutableRequest {
  return { model, classIndex: model === 'rm2' ? 0 : 1, size: 1, arrivalMs, deadlineMs: Infinity, critical: false };
}

describe('pools that serve different models (pools[].models)', () => {
  describe('config', () => {
    const base = {
      budget: { usdPerHour: 10 },
      profiles: [EDGE_PROFILE],
      classes: [
        { name: 'rec', model: 'rm2', slo: '350ms' },
        { name: 'digits', model: 'digits-cnn', slo: '200ms' },
      ],
    };
    const fails = (pools: unknown[], pattern: RegExp): void => {
      assert.throws(
        () => loadConfigObject({ ...base, pools }),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
      );
    };

    it('needs a profile only for the models a pool serves', () => {
      const loaded = twoModelConfig();
      assert.deepEqual(loaded.config.pools.map((p) => p.models), [['rm2'], ['digits-cnn']]);
    });

    it('says which pool lacks a profile, and that pools[].models would name what it serves', () => {
      fails([{ name: 'gpu', type: 'g4dn.xlarge' }, { name: 'edge', type: 't3.xlarge', models: ['digits-cnn'] }], /pools\[0\]\.type: no service-time profile for model "digits-cnn".*set pools\[\]\.models/);
    });

    it('rejects a model no class asks for, naming the entry', () => {
      fails([{ name: 'gpu', type: 'g4dn.xlarge', models: ['rm2', 'rm3'] }, { name: 'edge', type: 't3.xlarge', models: ['digits-cnn'] }], /pools\[0\]\.models\[1\]: no class serves model "rm3"/);
    });

    it('rejects a class whose model no pool serves', () => {
      fails([{ name: 'gpu', type: 'g4dn.xlarge', models: ['rm2'] }], /classes\[1\]\.model: no pool serves model "digits-cnn"/);
    });
  });

  describe('PoolTracker views', () => {
    const tracker = (): PoolTracker => {
      const loaded = twoModelConfig();
      return new PoolTracker({ rng: new Rng(1), now: () => 0, profileOf: (t, m) => (loaded.profiles.has(t, m) ? loaded.profiles.table(t, m) : undefined) });
    };

    it('is the tracker itself while every backend serves every model', () => {
      const t = tracker();
      t.add({ id: 'a', type: 'g4dn.xlarge', pool: 'gpu', fast: true, slots: 1, maxOutstanding: 1 });
      assert.equal(t.viewFor('rm2'), t);
    });

    it('shows a policy only the backends serving the request model, and follows membership', () => {
      const t = tracker();
      t.add({ id: 'g', type: 'g4dn.xlarge', pool: 'gpu', fast: true, slots: 1, maxOutstanding: 1, models: ['rm2'] });
      t.add({ id: 'e1', type: 't3.xlarge', pool: 'edge', fast: false, slots: 1, maxOutstanding: 1, models: ['digits-cnn'] });
      assert.deepEqual(t.viewFor('rm2').backends.map((b) => b.id), ['g']);
      assert.deepEqual(t.viewFor('digits-cnn').backends.map((b) => b.id), ['e1']);
      t.add({ id: 'e2', type: 't3.xlarge', pool: 'edge', fast: false, slots: 1, maxOutstanding: 1, models: ['digits-cnn'] });
      t.remove('g');
      assert.deepEqual(t.viewFor('digits-cnn').backends.map((b) => b.id), ['e1', 'e2']);
      assert.deepEqual(t.viewFor('rm2').backends, []);
      // The view holds the same state objects: what the router counts shows through.
      t.dispatched(t.get('e1')!, 3);
      assert.equal(t.viewFor('digits-cnn').backends[0]!.outstanding, 1);
    });

    it('gives no service time for a model the backend does not serve, even where the type is profiled', () => {
      const t = tracker();
      const g = t.add({ id: 'g', type: 'g4dn.xlarge', pool: 'gpu', fast: true, slots: 1, maxOutstanding: 1, models: ['digits-cnn'] });
      assert.ok(Number.isNaN(t.expectedServiceMs(g, req('rm2'))));
    });
  });

  describe('waiting room', () => {
    const fifo: RoutingPolicy = { name: 'fifo', pick: () => null };

    it("binds a free slot only to requests of a model its backend serves, the longest-waiting model's first", () => {
      const t = new PoolTracker({ rng: new Rng(1), now: () => 0, profileOf: () => undefined });
      const edge = t.add({ id: 'e', type: 't3.xlarge', pool: 'edge', fast: false, slots: 1, maxOutstanding: 1, models: ['digits-cnn'] });
      const both = t.add({ id: 'b', type: 'g4dn.xlarge', pool: 'gpu', fast: true, slots: 1, maxOutstanding: 1 });
      const q = new WaitQueue<string>(10);
      q.hold(req('rm2', 0), 'rec-0');
      q.hold(req('digits-cnn', 1), 'dig-1');
      q.hold(req('rm2', 2), 'rec-2');
      assert.ok(q.bind(edge, fifo, t));
      assert.equal(q.boundHandle, 'dig-1');
      assert.equal(q.bind(edge, fifo, t), false, 'only rm2 left, which the edge node does not serve');
      assert.ok(q.bind(both, fifo, t));
      assert.equal(q.boundHandle, 'rec-0');
      assert.equal(q.length, 1);
    });

    it('offers the next model when the policy leaves the slot free for the first', () => {
      const t = new PoolTracker({ rng: new Rng(1), now: () => 0, profileOf: () => undefined });
      const b = t.add({ id: 'b', type: 'g4dn.xlarge', pool: 'gpu', fast: true, slots: 1, maxOutstanding: 1, models: ['rm2', 'digits-cnn'] });
      t.add({ id: 'e', type: 't3.xlarge', pool: 'edge', fast: false, slots: 1, maxOutstanding: 1, models: ['digits-cnn'] });
      const q = new WaitQueue<string>(10);
      q.hold(req('digits-cnn', 0), 'dig');
      q.hold(req('rm2', 5), 'rec');
      const views: string[] = [];
      const picky: RoutingPolicy = {
        name: 'picky',
        pick: () => null,
        pickWaiting: (_b, waiting, view) => {
          views.push(`${waiting[0]!.model}:${view.backends.map((x) => x.id).join('+')}`);
          return waiting[0]!.model === 'rm2' ? 0 : -1;
        },
      };
      assert.ok(q.bind(b, picky, t));
      assert.equal(q.boundHandle, 'rec');
      assert.deepEqual(views, ['digits-cnn:b+e', 'rm2:b']);
    });
  });

  describe('HTTP router', () => {
    const bed = routerTestbed();
    const start = async (routing: Record<string, unknown>): Promise<{ server: RouterServer; url: string; gpu: FakeBackend; edge: FakeBackend }> => {
      const gpu = await bed.backend('gpu');
      const edge = await bed.backend('edge');
      const server = bed.serve(new RouterServer(twoModelConfig(routing), { healthChecks: false }));
      const url = await server.listen(0, '127.0.0.1');
      return { server, url, gpu, edge };
    };
    const infer = (url: string, model: string): Promise<Response> =>
      fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: inferBody(1) });

    for (const [policy, lateBinding] of [
      ['least-outstanding', false],
      ['round-robin', false],
      ['heterogeneity-aware', true],
      ['shortest-expected-delay', true],
    ] as const) {
      it(`sends each model only to the pool serving it (${policy}, ${lateBinding ? 'late binding' : 'binding at arrival'})`, async () => {
        const { server, url, gpu, edge } = await start({ policy, lateBinding });
        // Registered by pool, as the controller does: the pool's models come from the config.
        server.backends.add({ id: 'gpu-1', url: gpu.url, type: 'g4dn.xlarge', pool: 'gpu' });
        server.backends.add({ id: 'edge-1', url: edge.url, type: 't3.xlarge', pool: 'edge' });
        const models = ['rm2', 'digits-cnn', 'rm2', 'digits-cnn', 'digits-cnn', 'rm2', 'digits-cnn', 'digits-cnn'];
        const answers = await Promise.all(models.map((m) => infer(url, m)));
        assert.deepEqual(answers.map((a) => a.status), models.map(() => 200));
        assert.ok(gpu.received.every((r) => r.url === '/v2/models/rm2/infer'), `gpu got ${gpu.received.map((r) => r.url).join(', ')}`);
        assert.ok(edge.received.every((r) => r.url === '/v2/models/digits-cnn/infer'), `edge got ${edge.received.map((r) => r.url).join(', ')}`);
        assert.equal(gpu.received.length, 3);
        assert.equal(edge.received.length, 5);
      });
    }

    it('holds a request for its busy pool while another pool has free slots (late binding)', async () => {
      const { server, url, gpu, edge } = await start({ policy: 'heterogeneity-aware', lateBinding: true });
      edge.behaviour.delayMs = 80;
      server.backends.add({ id: 'gpu-1', url: gpu.url, type: 'g4dn.xlarge', pool: 'gpu' });
      server.backends.add({ id: 'edge-1', url: edge.url, type: 't3.xlarge', pool: 'edge' });
      const answers = await Promise.all([infer(url, 'digits-cnn'), infer(url, 'digits-cnn')]);
      assert.deepEqual(answers.map((a) => a.status), [200, 200]);
      assert.equal(edge.received.length, 2);
      assert.equal(gpu.received.length, 0);
    });

    it('reports readiness per model, and names the model when no backend serves it', async () => {
      const { server, url, gpu } = await start({ lateBinding: false });
      server.backends.add({ id: 'gpu-1', url: gpu.url, type: 'g4dn.xlarge', pool: 'gpu' });
      assert.equal((await fetch(`${url}/v2/models/rm2/ready`)).status, 200);
      assert.equal((await fetch(`${url}/v2/models/digits-cnn/ready`)).status, 503);
      assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);
      const r = await infer(url, 'digits-cnn');
      assert.equal(r.status, 503);
      assert.equal(r.headers.get('x-mixscale-reject'), 'no-backend');
      assert.match(((await r.json()) as { error: string }).error, /no backend serving model "digits-cnn"/);
      assert.equal(gpu.received.length, 0);
    });

    it('lists the models each backend serves', async () => {
      const { server, url, gpu } = await start({ lateBinding: false });
      server.backends.add({ id: 'gpu-1', url: gpu.url, type: 'g4dn.xlarge', pool: 'gpu' });
      const r = await fetch(`${url}/v1/backends`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const body = (await r.json()) as { backends: Array<{ id: string; models?: string[] }> };
      assert.deepEqual(body.backends.map((b) => [b.id, b.models]), [['gpu-1', ['rm2']]]);
    });
  });
});
