import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ec2Provider, httpReadiness } from '../../../src/cloud/aws/ec2-provider.ts';
import { SimClock } from '../../../src/core/clock.ts';
import type { Instance } from '../../../src/core/types.ts';
import { FakeEc2 } from '../support/fake-ec2.ts';

describe('Ec2Provider readiness', () => {
  let server: Server;
  let port: number;
  let status = 503;
  const paths: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(req.url === '/v2/health/ready' ? status : 404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const at = (address: string | undefined): Instance => ({ id: 'i-1', type: 'r5n.large', pool: 'p', state: 'running', launchedAtMs: 0, usdPerHour: 0.149, ...(address !== undefined ? { address } : {}) });

  it('httpReadiness: ready when GET of the path answers 200; not when it answers otherwise, cannot connect, or there is no address', async () => {
    const check = httpReadiness('/v2/health/ready', 1_000);
    status = 503;
    assert.equal(await check(at(`http://127.0.0.1:${port}`)), false);
    status = 200;
    assert.equal(await check(at(`http://127.0.0.1:${port}`)), true);
    assert.equal(paths.at(-1), '/v2/health/ready');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    assert.equal(await check(at(`http://127.0.0.1:${closedPort}`)), false);
    assert.equal(await check(at(undefined)), false);
  });

  it('lists an instance EC2 runs as pending until it answers ready, then as running without asking again', async () => {
    const clock = new SimClock(Date.parse('2026-01-05T00:00:00Z'));
    const ec2 = new FakeEc2(clock, 60_000);
    const provider = new Ec2Provider({ client: ec2.client, cluster: 'prod', launchTemplateOf: () => 'lt-x', priceOf: () => 0.149, backendPort: port, ready: httpReadiness('/v2/health/ready', 1_000) });
    const [launched] = await provider.launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 't-1' });
    ec2.instances.get(launched!.id)!.ip = '127.0.0.1';
    clock.advanceTo(clock.now() + 60_000);
    status = 503;
    assert.deepEqual((await provider.list()).map((i) => i.state), ['pending']);
    status = 200;
    assert.deepEqual((await provider.list()).map((i) => i.state), ['running']);
    status = 503;
    const asked = paths.length;
    assert.deepEqual((await provider.list()).map((i) => i.state), ['running'], 'the router’s health checks watch it from here on');
    assert.equal(paths.length, asked);
  });

  it('does not ask what the router serves (some controller found it ready), takes EC2’s word when the router cannot say, and asks the rest whatever their age', async () => {
    const clock = new SimClock(Date.parse('2026-01-05T00:00:00Z'));
    const ec2 = new FakeEc2(clock, 60_000);
    let served: ReadonlySet<string> | Error = new Set();
    const make = () =>
      new Ec2Provider({
        client: ec2.client,
        cluster: 'prod',
        launchTemplateOf: () => 'lt-x',
        priceOf: () => 0.149,
        backendPort: port,
        ready: httpReadiness('/v2/health/ready', 1_000),
        served: async () => {
          if (served instanceof Error) throw served;
          return served;
        },
        now: () => clock.now(),
      });
    const [launched] = await make().launch({ type: 'r5n.large', pool: 'p', count: 1, clientToken: 't-2' });
    ec2.instances.get(launched!.id)!.ip = '127.0.0.1';
    status = 503;
    clock.advanceTo(clock.now() + 3_600_000); // long past any launch timeout
    assert.deepEqual((await make().list()).map((i) => i.state), ['pending'], 'never ready, never served: the launch timeout ends it, in any process');
    const asked = paths.length;
    served = new Error('router unreachable');
    assert.deepEqual((await make().list()).map((i) => i.state), ['running']);
    served = new Set([launched!.id]);
    assert.deepEqual((await make().list()).map((i) => i.state), ['running']);
    assert.equal(paths.length, asked, 'neither asked');
  });});

describe('Ec2Provider paginated answers', () => {
  it('reads every page of DescribeInstances when checking ownership before a terminate, and when describing launches', async () => {
    const clock = new SimClock(0);
    const ec2 = new FakeEc2(clock, 0);
    const provider = new Ec2Provider({ client: ec2.client, cluster: 'prod', launchTemplateOf: () => 'lt-0', priceOf: () => 0.1 });
    const ids = (await provider.launch({ type: 'r5n.large', pool: 'p', count: 5, clientToken: 'tok' })).map((i) => i.id);
    ec2.pageSize = 2; // EC2 answers with a NextToken (it may, whether MaxResults was asked or not)
    assert.equal((await provider.list()).length, 5);
    assert.deepEqual((await provider.describe(ids)).map((i) => i.id).sort(), [...ids].sort());
    await provider.terminate(ids);
    assert.deepEqual(ec2.terminated, [ids]);
  });
});
