import assert from 'node:assert/strict';
import request from 'supertest';
import { HealthChecker } from '../../src/routing/health.ts';
import { RealClock, SimClock } from '../../src/core/clock.ts';
import type { RouterServer } from '../../src/routing/server.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { FirstAvailable, startRouter, until } from './harness.ts';

describe('router backend health and retries', () => {
  let router: RouterServer;
  let url: string;
  let a: FakeBackend;
  let b: FakeBackend;

  beforeEach(async () => {
    a = await new FakeBackend('a').start();
    b = await new FakeBackend('b').start();
    ({ server: router, url } = await startRouter(
      {
        health: { failures: 2 },
        backends: [
          { id: 'a', url: a.url, type: 'g4dn.xlarge', maxOutstanding: 2 },
          { id: 'b', url: b.url, type: 'r5n.large' },
        ],
      },
      { policy: new FirstAvailable() },
    ));
  });

  afterEach(async () => {
    await router.close();
    await a.stop();
    await b.stop();
  });

  it('retries once on another backend when the first refuses the connection', async () => {
    await a.stop();
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-mixscale-backend'], 'b');
    assert.equal(b.received.length, 1);
  });

  it('retries once on another backend when the first answers 503', async () => {
    a.behaviour.status = 503;
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-mixscale-backend'], 'b');
    assert.equal(a.received.length, 1);
  });

  it('retries only once: two failing backends give a clear 5xx', async () => {
    a.behaviour.status = 503;
    b.behaviour.status = 503;
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 503);
    assert.equal(a.received.length + b.received.length, 2);
  });

  it('answers 502 naming the backend when the only backend is down and nothing is left to retry on', async () => {
    router.backends.remove('b');
    await a.stop();
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 502);
    assert.equal(res.headers['x-mixscale-backend'], 'a');
    assert.match(res.body.error, /^backend a failed: /);
  });

  it("passes on the only backend's own 503 when nothing is left to retry on", async () => {
    router.backends.remove('b');
    a.behaviour.status = 503;
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 503);
    assert.equal(res.headers['x-mixscale-backend'], 'a');
    assert.equal(res.body.id, 'a', "the backend's own body, not the router's no-backend");
    const metrics = (await request(url).get('/metrics')).text;
    assert.match(metrics, /mixscale_router_requests_total\{[^}]*backend="a",code="503"\} 1/);
    assert.doesNotMatch(metrics, /reason="no-backend"\} [1-9]/);
  });

  it('does not retry elsewhere once the backend has begun its answer', async () => {
    a.behaviour.dieMidAnswer = true;
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1)).catch((e: unknown) => e);
    assert.equal(b.received.length, 0, 'the request ran on a; a copy on b would run it twice');
    if (!(res instanceof Error)) assert.equal((res as { status: number }).status, 502);
  });

  it('answers 504 naming the backend when it does not answer within the request timeout', async () => {
    await router.close();
    ({ server: router, url } = await startRouter({ requestTimeout: '1s', backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }, { policy: new FirstAvailable() }));
    a.behaviour.delayMs = 2500; // undici checks timeouts at about 1 s resolution
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.status, 504);
    assert.match(res.body.error, /backend a did not answer in time/);
  });

  it('stops sending to a backend after consecutive failures (passive check)', async () => {
    a.behaviour.status = 500;
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(router.backends.get('a')!.healthy, false);
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.headers['x-mixscale-backend'], 'b');
  });

  it('brings a backend back when its /v2/health/ready passes again (active check)', async () => {
    a.behaviour.status = 500;
    a.behaviour.ready = false;
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    const checker = new HealthChecker(router.backends, new RealClock(), 60_000, 1000);
    await checker.checkAll();
    assert.equal(router.backends.get('a')!.healthy, false);
    a.behaviour.ready = true;
    a.behaviour.status = 200;
    await checker.checkAll();
    assert.equal(router.backends.get('a')!.healthy, true);
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.headers['x-mixscale-backend'], 'a');
  });

  it('probes over a connection of its own: a probe does not wait behind a slow request', async () => {
    await router.close();
    ({ server: router, url } = await startRouter({ connectionsPerBackend: 1, health: { failures: 2 }, backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] }, { policy: new FirstAvailable() }));
    a.behaviour.delayMs = 1500;
    const slow = request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    const pending = slow.then((r) => r.status);
    await until(() => a.inFlight === 1, 'the slow request at the backend, on its only request connection');
    const backend = router.backends.get('a')!;
    router.backends.markFailure(backend, 'test');
    router.backends.markFailure(backend, 'test');
    assert.equal(backend.healthy, false);
    await new HealthChecker(router.backends, new RealClock(), 60_000, 1000).checkAll();
    assert.equal(backend.healthy, true);
    assert.equal(a.inFlight, 1, 'the probe answered while the slow request was still running');
    assert.equal(await pending, 200);
  });

  it('probes on the clock it is given, every interval, until stopped', async () => {
    a.behaviour.ready = false;
    const clock = new SimClock(0);
    const checker = new HealthChecker(router.backends, clock, 5_000, 1000);
    checker.start();
    clock.advanceTo(4_999);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(router.backends.get('a')!.consecutiveFailures, 0);
    clock.advanceTo(5_000);
    await until(() => router.backends.get('a')!.consecutiveFailures >= 1, 'the probe due at 5 s');
    clock.advanceTo(10_000);
    await until(() => router.backends.get('a')!.consecutiveFailures >= 2, 'the probe due at 10 s');
    assert.equal(router.backends.get('a')!.healthy, false);
    checker.stop();
    clock.advanceTo(60_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(router.backends.get('a')!.consecutiveFailures, 2);
  });

  it('keeps each backend within its outstanding limit', async () => {
    a.behaviour.delayMs = 100;
    b.behaviour.delayMs = 100;
    const answers = await Promise.all(Array.from({ length: 5 }, () => request(url).post('/v2/models/rm2/infer').send(inferBody(1))));
    const onA = answers.filter((r) => r.headers['x-mixscale-backend'] === 'a').length;
    assert.equal(onA, 2);
    assert.ok(answers.every((r) => r.status === 200));
  });

  it('answers 503 overloaded with retry-after when every backend is at its limit', async () => {
    router.backends.remove('b');
    a.behaviour.delayMs = 150;
    const answers = await Promise.all(Array.from({ length: 3 }, () => request(url).post('/v2/models/rm2/infer').send(inferBody(1))));
    const statuses = answers.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 503]);
    const rejected = answers.find((r) => r.status === 503)!;
    assert.equal(rejected.headers['x-mixscale-reject'], 'overloaded');
    assert.equal(rejected.headers['retry-after'], '1');
  });

  it('answers every request, and counts nothing as still in flight, while backends fail and leave under load', async () => {
    a.behaviour.delayMs = 20;
    b.behaviour.delayMs = 20;
    const c = await new FakeBackend('c').start();
    router.backends.add({ id: 'c', url: c.url, type: 'r5n.large' });
    try {
      const answers = Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          new Promise((r) => setTimeout(r, i)).then(() => request(url).post('/v2/models/rm2/infer').send(inferBody(1))),
        ),
      );
      await new Promise((r) => setTimeout(r, 30));
      await a.stop(); // dies with requests in flight
      await new Promise((r) => setTimeout(r, 30));
      router.backends.drain('b');
      await new Promise((r) => setTimeout(r, 30));
      router.backends.remove('c'); // removed with requests in flight
      const statuses = (await answers).map((r) => r.status);
      assert.equal(statuses.length, 120);
      for (const s of statuses) assert.ok([200, 502, 503].includes(s), `status ${s}`);
      assert.ok(statuses.filter((s) => s === 200).length > 0);
      assert.equal(router.infer.requestsInFlight, 0);
      assert.ok(router.tracker.backends.every((x) => x.outstanding === 0));
    } finally {
      await c.stop();
    }
  });
});
