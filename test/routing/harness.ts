import assert from 'node:assert/strict';
import { loadConfigObject } from '../../src/config/load.ts';
import type { RouterServer as RouterServerType, RouterServerOptions } from '../../src/routing/server.ts';
import { RouterServer } from '../../src/routing/server.ts';
import type { BackendState, PoolView, RejectReason, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import { FakeBackend } from './fake-backend.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/**
 * A config with two rm2 classes and a fast and a frugal pool; `router` overrides the router
 * section, `routing` the routing one. Binding at arrival (backends hold up to maxOutstanding)
 * unless `routing` says otherwise: late binding has its own suite (late-binding.test.ts).
 */
export function testConfig(router: Record<string, unknown> = {}, routing: Record<string, unknown> = {}) {
  return loadConfigObject({
    budget: { usdPerHour: 10 },
    classes: [
      { name: 'interactive', model: 'rm2', slo: '300ms' },
      { name: 'batch', model: 'rm2', slo: '5s' },
    ],
    pools: [
      { name: 'gpu', type: 'g4dn.xlarge' },
      { name: 'cpu', type: 'r5n.large' },
    ],
    routing: { policy: 'least-outstanding', lateBinding: false, ...routing },
    router: { adminToken: ADMIN_TOKEN, ...router },
  });
}

/** Picks the first accepting backend with room, in list order: predictable for tests. */
export class FirstAvailable implements RoutingPolicy {
  readonly name = 'first-available';
  lastRejectReason?: RejectReason;
  readonly seen: RoutableRequest[] = [];

  pick(req: RoutableRequest, view: PoolView): BackendState | null {
    this.seen.push({ ...req });
    const b = view.backends.find((x) => x.accepting && x.outstanding < x.maxOutstanding) ?? null;
    if (b === null) this.lastRejectReason = view.backends.some((x) => x.accepting) ? 'overloaded' : 'no-backend';
    return b;
  }
}

export async function startRouter(router: Record<string, unknown> = {}, opts: RouterServerOptions = {}): Promise<{ server: RouterServerType; url: string }> {
  const server = new RouterServer(testConfig(router), { healthChecks: false, ...opts });
  const url = await server.listen(0, '127.0.0.1');
  return { server, url };
}

/**
 * For suites whose tests each start their own router and fake backends: `backend` starts one
 * (answering after `delayMs`) and `serve` takes a router; after each test every router and
 * backend taken is stopped.
 */
export function routerTestbed(): { backend(name: string, delayMs?: number): Promise<FakeBackend>; serve(server: RouterServerType): RouterServerType } {
  const backends: FakeBackend[] = [];
  let router: RouterServerType | undefined;
  afterEach(async () => {
    await router?.close();
    router = undefined;
    for (const b of backends.splice(0)) await b.stop();
  });
  return {
    async backend(name, delayMs = 0) {
      const b = await new FakeBackend(name).start();
      b.behaviour.delayMs = delayMs;
      backends.push(b);
      return b;
    },
    serve: (server) => (router = server),
  };
}

/** Waits (at most 2 s) until `cond` holds; fails naming what it waited for. */
export async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for: ${what}`);
}
