import assert from 'node:assert/strict';
import request from 'supertest';
import { adminToken, tokenMatches } from '../../src/routing/admin.ts';
import { loadConfigObject } from '../../src/config/load.ts';
import { RouterServer } from '../../src/routing/server.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { ADMIN_TOKEN, FirstAvailable, startRouter, testConfig } from './harness.ts';

const AUTH = `Bearer ${ADMIN_TOKEN}`;

/** Runs `fn` with MIXSCALE_ADMIN_TOKEN set to `value` (unset for undefined), then puts it back. */
async function withEnvToken(value: string | undefined, fn: () => Promise<void>): Promise<void> {
  const saved = process.env.MIXSCALE_ADMIN_TOKEN;
  if (value === undefined) delete process.env.MIXSCALE_ADMIN_TOKEN;
  else process.env.MIXSCALE_ADMIN_TOKEN = value;
  try {
    await fn();
  } finally {
    if (saved === undefined) delete process.env.MIXSCALE_ADMIN_TOKEN;
    else process.env.MIXSCALE_ADMIN_TOKEN = saved;
  }
}

describe('router admin API', () => {
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

  it('refuses every admin route without the bearer token, with 401', async () => {
    for (const [method, path] of [
      ['get', '/v1/backends'],
      ['post', '/v1/backends'],
      ['get', '/v1/backends/x'],
      ['post', '/v1/backends/x/drain'],
      ['delete', '/v1/backends/x'],
    ] as const) {
      const res = await request(url)[method](path);
      assert.equal(res.status, 401, `${method} ${path}`);
      assert.match(res.headers['www-authenticate'] ?? '', /^Bearer/);
    }
    const wrong = await request(url).get('/v1/backends').set('authorization', 'Bearer not-the-token-at-all');
    assert.equal(wrong.status, 401);
  });

  it('refuses everyone when no token is configured', async () => {
    await router.close();
    await withEnvToken(undefined, async () => {
      ({ server: router, url } = await startRouter({ adminToken: undefined }, { policy: new FirstAvailable() }));
      const res = await request(url).get('/v1/backends').set('authorization', 'Bearer anything-at-all-here');
      assert.equal(res.status, 401);
      assert.match(res.body.error, /admin API disabled/);
    });
  });

  it('takes the token from MIXSCALE_ADMIN_TOKEN when the config has none', async () => {
    await router.close();
    await withEnvToken('from-the-environment-1234', async () => {
      ({ server: router, url } = await startRouter({ adminToken: undefined }, { policy: new FirstAvailable() }));
      const res = await request(url).get('/v1/backends').set('authorization', 'Bearer from-the-environment-1234');
      assert.equal(res.status, 200);
    });
  });

  it('treats an empty MIXSCALE_ADMIN_TOKEN as none (no empty bearer gets in), and refuses a short one', async () => {
    await router.close();
    await withEnvToken('', async () => {
      ({ server: router, url } = await startRouter({ adminToken: undefined }, { policy: new FirstAvailable() }));
      for (const bearer of ['Bearer \u00a0', 'Bearer  ', 'Bearer x']) {
        const res = await request(url).post('/v1/backends').set('authorization', bearer).send({ url: a.url, type: 'g4dn.xlarge' });
        assert.equal(res.status, 401, JSON.stringify(bearer));
      }
      assert.equal(router.backends.list().length, 0);
      assert.equal(adminToken(undefined, { MIXSCALE_ADMIN_TOKEN: '  ' }), undefined);
      assert.throws(() => adminToken(undefined, { MIXSCALE_ADMIN_TOKEN: 'short' }), /^MixscaleError: MIXSCALE_ADMIN_TOKEN: must be at least 16 characters/);
      assert.equal(adminToken('from-the-config-12345', { MIXSCALE_ADMIN_TOKEN: 'x' }), 'from-the-config-12345');
    });
  });

  it('compares tokens by content, whatever their lengths', () => {
    assert.equal(tokenMatches('abc', 'abc'), true);
    assert.equal(tokenMatches('abc', 'abcd'), false);
    assert.equal(tokenMatches('', 'abc'), false);
  });

  it('adds a backend with its type and pool, idempotently, and routes to it', async () => {
    const add = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    assert.equal(add.status, 201);
    assert.equal(add.body.backend.pool, 'gpu');
    assert.equal(add.body.backend.fast, true);
    const again = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    assert.equal(again.status, 200);
    const list = await request(url).get('/v1/backends').set('authorization', AUTH);
    assert.deepEqual(list.body.backends.map((b: { id: string }) => b.id), ['i-1']);
    const res = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(res.headers['x-mixscale-backend'], 'i-1');
  });

  it("gives a backend added to a named pool that pool's slots, when pools share a type", async () => {
    const loaded = loadConfigObject({
      budget: { usdPerHour: 10 },
      classes: [{ name: 'interactive', model: 'rm2', slo: '300ms' }],
      pools: [
        { name: 'big', type: 'r5n.large', slots: 4 },
        { name: 'small', type: 'r5n.large', slots: 1 },
      ],
      router: { adminToken: ADMIN_TOKEN },
    });
    const server = new RouterServer(loaded, { healthChecks: false });
    const at = await server.listen(0, '127.0.0.1');
    try {
      for (const [pool, slots, where] of [['big', 4, a.url], ['small', 1, 'http://127.0.0.1:1']] as const) {
        const res = await request(at).post('/v1/backends').set('authorization', AUTH).send({ id: pool, url: where, type: 'r5n.large', pool });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(res.body.backend.slots, slots, pool);
      }
    } finally {
      await server.close();
    }
  });

  it('answers 409 when an id is re-added at another address', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    const clash = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: 'http://127.0.0.1:1', type: 'g4dn.xlarge' });
    assert.equal(clash.status, 409);
  });

  it('answers 409 naming the backend that has the url when another id registers it', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    for (const same of [a.url, `${a.url}/`, a.url.replace(/^http:\/\//, '')]) {
      const twice = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-2', url: same, type: 'g4dn.xlarge' });
      assert.equal(twice.status, 409, same);
      assert.match(twice.body.error, /^url: .* is already backend "i-1"/);
    }
    const list = await request(url).get('/v1/backends').set('authorization', AUTH);
    assert.deepEqual(list.body.backends.map((b: { id: string }) => b.id), ['i-1']);
  });

  it('answers 409 saying what differs when an id is re-added with other settings (identical stays 200)', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ type: 'r5n.large' }, /type "g4dn\.xlarge" \(asked: "r5n\.large"\)/],
      [{ slots: 4 }, /slots 1 \(asked: 4\)/],
      [{ maxOutstanding: 8 }, /maxOutstanding 64 \(asked: 8\)/],
    ];
    for (const [change, error] of cases) {
      const res = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge', ...change });
      assert.equal(res.status, 409, JSON.stringify(change));
      assert.match(res.body.error, /^id: backend "i-1" already exists with /);
      assert.match(res.body.error, error);
    }
    const same = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge', pool: 'gpu', slots: 1, maxOutstanding: 64 });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.deepEqual([same.body.backend.type, same.body.backend.slots], ['g4dn.xlarge', 1]);
  });

  it('bounds slots and maxOutstanding, and refuses a url with a path or query', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ slots: 1e300 }, /^slots: expected a positive integer up to 10000, got 1e\+300/],
      [{ slots: 10001 }, /^slots: expected a positive integer up to 10000/],
      [{ maxOutstanding: 1e300 }, /^maxOutstanding: expected a positive integer up to 10000/],
      [{ url: 'http://127.0.0.1:9/foo?x=1' }, /^url: a backend is an origin \(http:\/\/host:port\); "http:\/\/127\.0\.0\.1:9\/foo\?x=1" has a path or query/],
      [{ url: 'http://127.0.0.1:9?x=1' }, /^url: a backend is an origin/],
      [{ url: 'http://user:pw@127.0.0.1:9' }, /^url: a backend is an origin/],
    ];
    for (const [change, error] of cases) {
      const res = await request(url).post('/v1/backends').set('authorization', AUTH).send({ url: a.url, type: 'r5n.large', ...change });
      assert.equal(res.status, 400, JSON.stringify(change));
      assert.match(res.body.error, error);
    }
    assert.equal((await request(url).post('/v1/backends').set('authorization', AUTH).send({ url: `${a.url}/`, type: 'r5n.large', slots: 10000 })).status, 201);
  });

  it('says maxOutstanding does not apply when the router binds late, rather than dropping it', async () => {
    await router.close();
    router = new RouterServer(testConfig({}, { lateBinding: true }), { healthChecks: false });
    url = await router.listen(0, '127.0.0.1');
    const res = await request(url).post('/v1/backends').set('authorization', AUTH).send({ url: a.url, type: 'r5n.large', maxOutstanding: 8 });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /^maxOutstanding: does not apply with routing\.lateBinding/);
    const slots = await request(url).post('/v1/backends').set('authorization', AUTH).send({ url: a.url, type: 'r5n.large', slots: 3 });
    assert.equal(slots.status, 201);
    assert.deepEqual([slots.body.backend.slots, slots.body.backend.maxOutstanding], [3, 3]);
  });

  it('re-adding with other slots under late binding names the slots only, not the maxOutstanding the caller never sent', async () => {
    await router.close();
    router = new RouterServer(testConfig({}, { lateBinding: true }), { healthChecks: false });
    url = await router.listen(0, '127.0.0.1');
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    const res = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge', slots: 4 });
    assert.equal(res.status, 409);
    assert.equal(res.body.error, 'id: backend "i-1" already exists with slots 1 (asked: 4); remove it first to change it');
  });

  it('re-adding names a differing value the caller left out as the default it resolved to, not as asked', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge', slots: 2, maxOutstanding: 8 });
    const res = await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    assert.equal(res.status, 409);
    assert.equal(res.body.error, 'id: backend "i-1" already exists with slots 2 (default: 1), maxOutstanding 8 (default: 64); remove it first to change it');
  });

  it('answers 400 naming the field for a bad backend', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ type: 'g4dn.xlarge' }, /^url:/],
      [{ url: a.url }, /^type:/],
      [{ url: a.url, type: 'g9.huge' }, /^type: "g9.huge" is not in the instance catalog/],
      [{ url: a.url, type: 'r5n.large', pool: 'egde' }, /^pool: no pool named "egde"; pools: gpu, cpu$/],
      [{ url: a.url, type: 'g4dn.xlarge', pool: 'cpu' }, /^type: g4dn.xlarge is not the type of pool "cpu" \(r5n.large\)$/],
      [{ url: a.url, type: 't3.xlarge' }, /^type: no pool has type t3.xlarge/],
      [{ url: a.url, type: 'r5n.large', slots: 0 }, /^slots:/],
      [{ url: a.url, type: 'r5n.large', colour: 'red' }, /^colour: unknown field/],
      [{ url: 'ftp://x', type: 'r5n.large' }, /^url: only http/],
      [{ url: '127.0.0.1:0', type: 'r5n.large' }, /^url: port 0 is not a port a backend listens on/],
      [{ url: a.url, type: 'r5n.large', id: '   ' }, /^id: expected a non-empty string$/],
    ];
    for (const [body, message] of cases) {
      const res = await request(url).post('/v1/backends').set('authorization', AUTH).send(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error, message);
    }
  });

  it('reads the body as JSON whatever its content-type (curl -d), and names the body when it is not an object', async () => {
    const form = await request(url).post('/v1/backends').set('authorization', AUTH).set('content-type', 'application/x-www-form-urlencoded').send(JSON.stringify({ url: a.url, type: 'r5n.large', id: 'a' }));
    assert.equal(form.status, 201, JSON.stringify(form.body));
    for (const body of ['null', '42', '"a"', '[]']) {
      const res = await request(url).post('/v1/backends').set('authorization', AUTH).set('content-type', 'application/json').send(body);
      assert.equal(res.status, 400, body);
      assert.match(res.body.error, /^body: expected a JSON object \{url, type/, body);
    }
    const broken = await request(url).post('/v1/backends').set('authorization', AUTH).set('content-type', 'text/plain').send('{"url":');
    assert.equal(broken.status, 400);
    assert.match(broken.body.error, /^body: malformed JSON/);
    // Routes that take no body ignore whatever is sent.
    const drain = await request(url).post('/v1/backends/a/drain').set('authorization', AUTH).set('content-type', 'text/plain').send('now');
    assert.equal(drain.status, 200, JSON.stringify(drain.body));
  });

  it('drains: no new requests, in-flight ones finish, and reports drained when in-flight reaches 0', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    a.behaviour.delayMs = 200;
    const inflight = request(url).post('/v2/models/rm2/infer').send(inferBody(1)).then((r) => r);
    while (a.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const drain = await request(url).post('/v1/backends/i-1/drain').set('authorization', AUTH);
    assert.equal(drain.status, 200);
    assert.deepEqual([drain.body.backend.draining, drain.body.backend.inFlight, drain.body.backend.drained], [true, 1, false]);
    const refused = await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    assert.equal(refused.status, 503);
    const waited = await request(url).post('/v1/backends/i-1/drain?wait=5000').set('authorization', AUTH);
    assert.deepEqual([waited.body.backend.inFlight, waited.body.backend.drained], [0, true]);
    assert.equal((await inflight).status, 200);
    assert.equal(a.received.length, 1);
  });

  it('checks ?wait before draining: a bad one changes nothing, and a wait that times out leaves nothing behind', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    for (const wait of ['abc', '-1', '1.5', '700000']) {
      const bad = await request(url).post(`/v1/backends/i-1/drain?wait=${wait}`).set('authorization', AUTH);
      assert.equal(bad.status, 400, wait);
      assert.match(bad.body.error, /^wait: expected milliseconds between 0 and 600000/);
    }
    assert.equal(router.backends.get('i-1')!.draining, false);
    a.behaviour.delayMs = 300;
    const inflight = request(url).post('/v2/models/rm2/infer').send(inferBody(1)).then((r) => r);
    while (a.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const timedOut = await request(url).post('/v1/backends/i-1/drain?wait=20').set('authorization', AUTH);
    assert.deepEqual([timedOut.status, timedOut.body.backend.drained], [200, false]);
    assert.equal(router.backends.get('i-1')!.drainWaiters.length, 0);
    assert.equal((await inflight).status, 200);
  });

  it('removes a backend, and answers 404 for one it does not know', async () => {
    await request(url).post('/v1/backends').set('authorization', AUTH).send({ id: 'i-1', url: a.url, type: 'g4dn.xlarge' });
    const del = await request(url).delete('/v1/backends/i-1').set('authorization', AUTH);
    assert.equal(del.status, 200);
    assert.equal(del.body.removed.id, 'i-1');
    assert.equal((await request(url).get('/v1/backends/i-1').set('authorization', AUTH)).status, 404);
    assert.equal((await request(url).delete('/v1/backends/i-1').set('authorization', AUTH)).status, 404);
    assert.equal((await request(url).post('/v1/backends/i-1/drain').set('authorization', AUTH)).status, 404);
  });
});
