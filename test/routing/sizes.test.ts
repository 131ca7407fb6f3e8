import assert from 'node:assert/strict';
import request from 'supertest';
import { RouterServer } from '../../src/routing/server.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { testConfig } from './harness.ts';

describe('requests the router can never serve get 400, not 503 + retry-after', () => {
  describe('a size above every profile of the model (rm2: sizes up to 1000)', () => {
    let router: RouterServer | undefined;
    let a: FakeBackend;
    let b: FakeBackend;

    beforeEach(async () => {
      a = await new FakeBackend('a').start();
      b = await new FakeBackend('b').start();
    });

    afterEach(async () => {
      await router?.close();
      router = undefined;
      await a.stop();
      await b.stop();
    });

    async function start(routing: Record<string, unknown>, withBackends = true): Promise<string> {
      const backends = withBackends
        ? [
            { id: 'a', url: a.url, type: 'g4dn.xlarge' },
            { id: 'b', url: b.url, type: 'r5n.large' },
          ]
        : [];
      router = new RouterServer(testConfig({ backends }, routing), { healthChecks: false });
      return router.listen(0, '127.0.0.1');
    }

    for (const routing of [
      { policy: 'heterogeneity-aware' },
      { policy: 'heterogeneity-aware', lateBinding: true },
      { policy: 'shortest-expected-delay' },
      { policy: 'size-split' },
    ]) {
      it(`answers 400 naming parameters.size or the shape, and the profiled range (${JSON.stringify(routing)})`, async () => {
        const url = await start(routing);
        const cases: Array<[string, RegExp]> = [
          [JSON.stringify({ parameters: { size: 5000 } }), /^parameters\.size: 5000 is above 1000, the largest size rm2 is profiled for$/],
          [JSON.stringify({ parameters: { size: 1e300 } }), /^parameters\.size: 1e\+300 is above 1000, the largest size rm2 is profiled for$/],
          [JSON.stringify({ inputs: [{ name: 'x', shape: [300000, 1], datatype: 'FP32' }] }), /^inputs\[0\]\.shape: the leading dimension \(the batch\) 300000 is above 1000, the largest size rm2 is profiled for$/],
        ];
        for (const [body, error] of cases) {
          const res = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(body);
          assert.equal(res.status, 400, body);
          assert.equal(res.headers['retry-after'], undefined);
          assert.match(res.body.error, error);
        }
        const largest = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(JSON.stringify({ parameters: { size: 1000 } }));
        assert.equal(largest.status, 200);
        // Not counted as an arrival: the size distribution the controller plans from stays clean.
        const snap = await request(url).get('/v1/snapshot');
        const sizes = (snap.body.classes as Array<{ sizes: Array<[number, number]> }>).flatMap((c) => c.sizes.map(([s]) => s));
        assert.deepEqual(sizes, [1000]);
      });
    }

    it('says the same with no backend at all, while a size some profile covers still gets 503 no-backend', async () => {
      const url = await start({ policy: 'least-outstanding' }, false);
      const big = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(JSON.stringify({ parameters: { size: 5000 } }));
      assert.equal(big.status, 400);
      assert.match(big.body.error, /^parameters\.size: 5000 is above 1000/);
      const fits = await request(url).post('/v2/models/rm2/infer').set('content-type', 'application/json').send(inferBody(3));
      assert.equal(fits.status, 503);
      assert.equal(fits.headers['x-mixscale-reject'], 'no-backend');
      assert.ok(fits.headers['retry-after']);
    });
  });
});
