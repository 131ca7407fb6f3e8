import assert from 'node:assert/strict';
import { loadConfigObject } from '../../src/config/load.ts';
import { RouterServer } from '../../src/routing/server.ts';
import { inferBody } from './fake-backend.ts';
import { ADMIN_TOKEN, routerTestbed, until } from './harness.ts';

describe('BackendSet: a removed backend', () => {
  const bed = routerTestbed();

  it('stays out of rotation when a request that was in flight on it succeeds after it was marked unhealthy and removed', async () => {
    // a answers long after the steps below (a loaded machine must not let it answer first), b later still.
    const a = await bed.backend('a', 1_500);
    const b = await bed.backend('b', 3_000);
    const loaded = loadConfigObject({
      budget: { usdPerHour: 10 },
      classes: [{ name: 'rm2', model: 'rm2', slo: '5s' }],
      pools: [{ name: 'cpu', type: 'r5n.large' }],
      routing: { policy: 'least-outstanding', lateBinding: true },
      router: { adminToken: ADMIN_TOKEN, health: { failures: 1 } },
    });
    const server = bed.serve(new RouterServer(loaded, { healthChecks: false }));
    const url = await server.listen(0, '127.0.0.1');
    server.backends.add({ id: 'a', url: a.url, type: 'r5n.large' });
    server.backends.add({ id: 'b', url: b.url, type: 'r5n.large' });
    const infer = (): Promise<Response> => fetch(`${url}/v2/models/rm2/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: inferBody(1) });
    const first = [infer(), infer()];
    await until(() => a.inFlight === 1 && b.inFlight === 1, 'one request at each backend');
    const third = infer();
    await until(() => server.infer.requestsWaiting === 1, 'a third request waiting for a slot');
    // A failed health probe marks `a` unhealthy while its request runs; then it is removed.
    server.backends.markFailure(server.backends.get('a')!, 'health check failed');
    assert.ok(server.backends.remove('a'));
    const answers = await Promise.all([...first, third]);
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200], 'the waiting request is served by b, not bound to the removed a');
    assert.equal(answers[2]!.headers.get('x-mixscale-backend'), 'b');
  });
});
