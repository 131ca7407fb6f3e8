import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import request from 'supertest';
import { SimClock } from '../../src/core/clock.ts';
import { LatencyHistogram } from '../../src/core/histogram.ts';
import { RouterMetrics } from '../../src/routing/metrics.ts';
import type { RouterServer } from '../../src/routing/server.ts';
import type { BackendState } from '../../src/routing/types.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { FirstAvailable, startRouter } from './harness.ts';

function promtoolAvailable(): boolean {
  return spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
}

describe('router metrics', () => {
  describe('GET /metrics', () => {
    let router: RouterServer;
    let url: string;
    let a: FakeBackend;

    beforeEach(async () => {
      a = await new FakeBackend('a').start();
      ({ server: router, url } = await startRouter({ backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }, { policy: new FirstAvailable() }));
      await request(url).post('/v2/models/rm2/infer').send(inferBody(3));
      await request(url).post('/v2/models/rm2/infer').send(inferBody(1, { class: 'batch', size: 200 }));
      router.backends.drain('a');
      await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    });

    afterEach(async () => {
      await router.close();
      await a.stop();
    });

    it('counts requests, sizes and rejections with model, class, pool and backend labels', async () => {
      const text = (await request(url).get('/metrics')).text;
      assert.match(text, /mixscale_router_requests_total\{model="rm2",class="interactive",pool="gpu",backend="a",code="200"\} 1/);
      assert.match(text, /mixscale_router_requests_total\{model="rm2",class="batch",pool="gpu",backend="a",code="200"\} 1/);
      assert.match(text, /mixscale_router_rejections_total\{model="rm2",class="interactive",reason="no-backend"\} 1/);
      assert.match(text, /mixscale_router_request_size_total\{model="rm2",class="interactive"\} 4/);
      assert.match(text, /mixscale_router_backend_latency_seconds\{model="rm2",class="interactive",pool="gpu",backend="a",quantile="0.99"\} \d/);
      assert.match(text, /mixscale_router_pool_latency_seconds\{pool="gpu",quantile="0.5"\} \d/);
      assert.match(text, /mixscale_router_backend_accepting\{backend="a",pool="gpu",type="g4dn.xlarge"\} 0/);
    });

    it('ends a removed backend’s own series, as a scrape target’s end, and keeps its history in the class and pool summaries', async () => {
      const before = (await request(url).get('/metrics')).text;
      const count = (text: string, series: string): number => Number(new RegExp(`${series} (\\d+)`).exec(text)?.[1]);
      router.backends.remove('a');
      const text = (await request(url).get('/metrics')).text;
      assert.doesNotMatch(text, /backend="a"/);
      assert.doesNotMatch(text, /backend="removed"/, 'no other series takes its totals (that would read as a burst of traffic)');
      for (const series of ['mixscale_router_class_latency_seconds_count\\{model="rm2",class="interactive"\\}', 'mixscale_router_pool_latency_seconds_count\\{pool="gpu"\\}']) {
        assert.ok(count(before, series) > 0, series);
        assert.equal(count(text, series), count(before, series), series);
      }
    });

    it('passes promtool check metrics', async function () {
      if (!promtoolAvailable()) this.skip(); // promtool comes with Debian's "prometheus" package
      const text = (await request(url).get('/metrics')).text;
      const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });
  });

  describe('snapshot window', () => {
    const backend: BackendState = { id: 'b', type: 'r5n.large', pool: 'cpu', fast: false, slots: 2, maxOutstanding: 8, outstanding: 0, pendingWorkMs: 0, accepting: true };
    const classes = [{ name: 'interactive', model: 'rm2', sloMs: 300, sloQuantile: 0.99, share: 1 }];

    it('reports only the last window, sliding in sixths, as time passes', () => {
      const clock = new SimClock(0);
      const m = new RouterMetrics(classes, 60_000, () => clock.now(), () => [backend], () => true);
      for (let i = 0; i < 30; i++) m.arrived(0, 100);
      m.completed(0, backend, 200, 40);
      clock.advanceTo(30_000);
      for (let i = 0; i < 30; i++) m.arrived(0, 10);
      let s = m.snapshot().classes[0]!;
      assert.equal(s.arrivals, 60);
      assert.ok(Math.abs(s.rps - 2) < 1e-9, `rps ${s.rps}`);
      clock.advanceTo(75_000);
      s = m.snapshot().classes[0]!;
      assert.equal(s.arrivals, 30);
      assert.deepEqual(s.sizes, [[10, 30]]);
      assert.equal(LatencyHistogram.decode(s.latency).count, 0);
    });

    it('keeps removed backends of different pools apart in the pool summaries, and counts a request that finishes after its backend was removed with them', async () => {
      const clock = new SimClock(0);
      const gpu: BackendState = { ...backend, id: 'g', type: 'g4dn.xlarge', pool: 'gpu', fast: true };
      const cpu: BackendState = { ...backend };
      const m = new RouterMetrics(classes, 60_000, () => clock.now(), () => [], () => true);
      m.completed(0, gpu, 200, 10);
      m.completed(0, cpu, 200, 50);
      m.completed(0, cpu, 200, 60);
      m.retire(gpu);
      m.retire(cpu);
      m.completed(0, cpu, 200, 70); // was in flight when removed
      const text = await m.registry.metrics();
      assert.match(text, /mixscale_router_pool_latency_seconds_count\{pool="cpu"\} 3/);
      assert.match(text, /mixscale_router_pool_latency_seconds_count\{pool="gpu"\} 1/);
      assert.match(text, /mixscale_router_class_latency_seconds_count\{model="rm2",class="interactive"\} 4/);
      assert.doesNotMatch(text, /mixscale_router_requests_total\{/);
      assert.doesNotMatch(text, /backend="[bg]"/);
    });

    it('measures pool utilization as the busy share of its backends’ slots', () => {
      const clock = new SimClock(0);
      const b = { ...backend };
      const m = new RouterMetrics(classes, 60_000, () => clock.now(), () => [b], () => true);
      clock.advanceTo(10_000);
      m.beforeLoadChange(b);
      b.outstanding = 1; // one of two slots busy from 10 s to 40 s
      clock.advanceTo(40_000);
      m.beforeLoadChange(b);
      b.outstanding = 0;
      clock.advanceTo(60_000);
      const pool = m.snapshot().pools.find((p) => p.pool === 'cpu')!;
      assert.ok(Math.abs(pool.utilization - 0.25) < 1e-9, `utilization ${pool.utilization}`);
    });
  });
});
