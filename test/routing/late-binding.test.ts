import assert from 'node:assert/strict';
import { loadConfigObject } from '../../src/config/load.ts';
import { RouterServer } from '../../src/routing/server.ts';
import { inferBody } from './fake-backend.ts';
import { ADMIN_TOKEN, routerTestbed, until } from './harness.ts';

/** One class (rm2, 5 s SLO), least-outstanding routing with late binding; each backend has 1 slot. */
async function lateRouter(routing: Record<string, unknown> = {}, router: Record<string, unknown> = {}): Promise<{ server: RouterServer; url: string }> {
  const loaded = loadConfigObject({
    budget: { usdPerHour: 10 },
    classes: [{ name: 'rm2', model: 'rm2', slo: '5s' }],
    pools: [{ name: 'cpu', type: 'r5n.large' }],
    routing: { policy: 'least-outstanding', lateBinding: true, ...routing },
    router: { adminToken: ADMIN_TOKEN, ...router },
  });
  const server = new RouterServer(loaded, { healthChecks: false });
  const url = await server.listen(0, '127.0.0.1');
  return { server, url };
}

function infer(url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v2/models/rm2/infer`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: inferBody(1), ...(signal !== undefined ? { signal } : {}) });
}

describe('router with late binding (routing.lateBinding)', () => {
  const bed = routerTestbed();
  const backend = bed.backend;
  /** A late-binding router with one backend, `a` (one slot), answering after `delayMs`. */
  const oneBackend = async (delayMs: number, routing: Record<string, unknown> = {}) => {
    const a = await backend('a', delayMs);
    const r = await lateRouter(routing);
    const server = bed.serve(r.server);
    server.backends.add({ id: 'a', url: a.url, type: 'r5n.large' });
    return { a, server, url: r.url };
  };
  /** oneBackend with a first request at `a` and a second waiting at the router for its slot. */
  const secondWaiting = async (delayMs: number, routing: Record<string, unknown> = {}) => {
    const one = await oneBackend(delayMs, routing);
    const first = infer(one.url);
    await until(() => one.a.inFlight === 1, 'first request at the backend');
    const second = infer(one.url);
    await until(() => one.server.infer.requestsWaiting === 1, 'second request waiting');
    return { ...one, first, second };
  };

  it('keeps at most one request per slot at a backend and answers the rest in turn', async () => {
    const { a, server, url } = await oneBackend(60);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, a.inFlight)), 2);
    const answers = await Promise.all([infer(url), infer(url), infer(url), infer(url)]);
    clearInterval(watch);
    assert.deepEqual(answers.map((x) => x.status), [200, 200, 200, 200]);
    assert.equal(a.received.length, 4);
    assert.equal(most, 1, 'one slot, one request in flight at the backend');
    assert.equal(server.infer.requestsWaiting, 0);
  });

  it('answers a request still waiting for a slot at router.shutdownTimeout 503 shutting-down with retry-after, and cuts the one at the backend', async () => {
    const a = await backend('a', 10_000);
    const r = await lateRouter({}, { shutdownTimeout: '300ms' });
    const server = bed.serve(r.server);
    server.backends.add({ id: 'a', url: a.url, type: 'r5n.large' });
    const first = infer(r.url).then((x) => x.status, () => 'cut');
    await until(() => a.inFlight === 1, 'first request at the backend');
    const second = infer(r.url);
    await until(() => server.infer.requestsWaiting === 1, 'second request waiting');
    await server.close();
    const refused = await second;
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('x-mixscale-reject'), 'shutting-down');
    assert.ok(refused.headers.get('retry-after') !== null);
    assert.match(((await refused.json()) as { error: string }).error, /^router shut down before a backend slot was free for this request \(it was not sent to a backend: safe to retry\)$/);
    assert.equal(await first, 'cut');
    assert.equal(a.received.length, 1, 'the waiting request never reached the backend');
  });

  it('rejects with 503 naming routing.maxWaiting when the waiting room is full', async () => {
    const { url, first, second } = await secondWaiting(150, { maxWaiting: 1 });
    const third = await infer(url);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get('x-mixscale-reject'), 'overloaded');
    assert.match(((await third.json()) as { error: string }).error, /routing\.maxWaiting/);
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
  });

  it("answers 504 when a waiting request's deadline passes before a slot frees", async () => {
    const { a, server, url } = await oneBackend(300);
    const first = infer(url);
    await until(() => a.inFlight === 1, 'first request at the backend');
    const late = await infer(url, { 'x-mixscale-deadline-ms': '150' });
    assert.equal(late.status, 504);
    assert.equal(late.headers.get('x-mixscale-reject'), 'deadline');
    assert.equal(server.infer.requestsWaiting, 0);
    assert.equal((await first).status, 200);
    assert.equal(a.received.length, 1, 'the expired request never reached the backend');
  });

  it('answers 504 at once, without waiting, a request no backend could finish by its deadline even when free', async () => {
    const { a, server, url } = await oneBackend(300);
    const first = infer(url);
    await until(() => a.inFlight === 1, 'first request at the backend');
    // size 500 on r5n.large: about 205 ms expected, against a 100 ms deadline.
    const res = await fetch(`${url}/v2/models/rm2/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-mixscale-deadline-ms': '100' }, body: inferBody(1, { size: 500 }) });
    assert.equal(res.status, 504);
    assert.equal(res.headers.get('x-mixscale-reject'), 'deadline');
    assert.match(((await res.json()) as { error: string }).error, /^cannot finish within the 100 ms deadline: expected \d+ ms on the fastest backend, before any wait$/);
    assert.equal(server.infer.requestsWaiting, 0);
    assert.equal((await first).status, 200);
  });

  it('forgets a waiting request whose client went away, and counts it in /metrics as abandoned', async () => {
    const { a, server, url } = await oneBackend(150);
    const first = infer(url);
    await until(() => a.inFlight === 1, 'first request at the backend');
    const abort = new AbortController();
    const gone = infer(url, {}, abort.signal).catch((e: unknown) => e);
    await until(() => server.infer.requestsWaiting === 1, 'second request waiting');
    abort.abort();
    await gone;
    await until(() => server.infer.requestsWaiting === 0, 'waiting room empty');
    assert.equal((await first).status, 200);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(a.received.length, 1);
    assert.equal(server.tracker.backends[0]!.outstanding, 0);
    // Every arrival is accounted for: one answered by the backend, one abandoned, none rejected.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const value = (name: string): number => [...metrics.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(value('mixscale_router_arrivals_total'), 2);
    assert.equal(value('mixscale_router_abandoned_total'), 1);
    assert.equal(value('mixscale_router_requests_total'), 1);
    assert.equal(value('mixscale_router_rejections_total'), 0);
  });

  it('gives waiting requests to a backend as soon as it is added, and reports them in /metrics', async () => {
    // a is slow (400 ms) and busy with the first request.
    const { server, url, first, second } = await secondWaiting(400);
    const fast = await backend('fast', 0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^mixscale_router_waiting_requests 1$/m);
    server.backends.add({ id: 'fast', url: fast.url, type: 'r5n.large' });
    const answer = await second;
    assert.equal(answer.status, 200);
    assert.equal(fast.received.length, 1, 'served by the new backend, not after the slow one');
    assert.equal(answer.headers.get('x-mixscale-backend'), 'fast');
    assert.equal((await first).status, 200);
  });

  /**
   * Backend b busy with a first request, backend a refusing everything (503), and a second
   * request that a refused waiting as a retry for b.
   */
  const retryWaitingForB = async () => {
    const b = await backend('b', 300);
    const r = await lateRouter();
    const server = bed.serve(r.server);
    server.backends.add({ id: 'b', url: b.url, type: 'r5n.large' });
    const first = infer(r.url);
    await until(() => b.inFlight === 1, 'b busy');
    const a = await backend('a', 0);
    a.behaviour.status = 503;
    server.backends.add({ id: 'a', url: a.url, type: 'r5n.large' });
    const second = infer(r.url);
    await until(() => server.infer.requestsWaiting === 1, 'the retry waiting for b');
    return { a, b, server, url: r.url, first, second };
  };

  it('retries a refused request on a backend that is merely busy: it waits for its slot', async () => {
    const { a, b, url, first, second } = await retryWaitingForB();
    // A third request takes a's free slot: the waiting retry must not be bound back to a.
    const third = infer(url);
    for (const res of [await second, await third]) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-mixscale-backend'), 'b');
    }
    assert.deepEqual([a.received.length, b.received.length], [2, 3]);
    assert.equal((await first).status, 200);
  });

  it("answers a waiting retry with the first backend's failure when no other backend is left for it", async () => {
    const { server, first, second } = await retryWaitingForB();
    server.backends.drain('b');
    const res = await second;
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('x-mixscale-backend'), 'a', "a's own answer, not a wait to the deadline");
    assert.equal(server.infer.requestsWaiting, 0);
    assert.equal((await first).status, 200);
  });

  it('refuses at once the waiting requests of a model whose last backend is removed', async () => {
    const { server, first, second } = await secondWaiting(200);
    server.backends.remove('a');
    const answer = await second;
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get('x-mixscale-reject'), 'no-backend', 'not "overloaded" after the wait limit');
    assert.match(((await answer.json()) as { error: string }).error, /no backend serving model "rm2" is left/);
    assert.equal(server.infer.requestsWaiting, 0);
    assert.equal((await first).status, 200);
  });

  it('offers a waiting request to the other backends when the one it waited for is drained', async () => {
    // heterogeneity-aware: a latency-critical request waits for the busy GPU rather than take the free CPU.
    const g = await backend('g', 300);
    const c = await backend('c', 0);
    const loaded = loadConfigObject({
      budget: { usdPerHour: 10 },
      classes: [{ name: 'rm2', model: 'rm2', slo: '5s' }],
      pools: [{ name: 'gpu', type: 'g4dn.xlarge' }, { name: 'cpu', type: 'r5n.large' }],
      routing: { policy: 'heterogeneity-aware', lateBinding: true },
      router: { adminToken: ADMIN_TOKEN },
    });
    const server = bed.serve(new RouterServer(loaded, { healthChecks: false }));
    const url = await server.listen(0, '127.0.0.1');
    server.backends.add({ id: 'g', url: g.url, type: 'g4dn.xlarge' });
    server.backends.add({ id: 'c', url: c.url, type: 'r5n.large' });
    const critical = { 'x-mixscale-priority': 'high' };
    const first = infer(url, critical);
    await until(() => g.inFlight === 1, 'first request at the GPU');
    const second = infer(url, critical);
    await until(() => server.infer.requestsWaiting === 1, 'second request waiting for the GPU');
    assert.equal(c.received.length, 0);
    server.backends.drain('g');
    const answer = await second;
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('x-mixscale-backend'), 'c');
    assert.equal((await first).status, 200);
  });
});
