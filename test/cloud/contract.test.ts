import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../../src/catalog/catalog.ts';
import { Ec2Provider } from '../../src/cloud/aws/ec2-provider.ts';
import { LocalProvider } from '../../src/cloud/local/local-provider.ts';
import type { CloudProvider } from '../../src/cloud/provider.ts';
import { RealClock, SimClock } from '../../src/core/clock.ts';
import { isMixscaleError } from '../../src/core/errors.ts';
import { BILLED_STATES, type Instance } from '../../src/core/types.ts';
import { SimCloud } from '../../sim/cloud.ts';
import { FakeEc2 } from './support/fake-ec2.ts';

const catalog = Catalog.load();
const TINY_NODE = fileURLToPath(new URL('./support/tiny-node.ts', import.meta.url));

/** What the contract needs from each implementation, besides the provider itself. */
interface Harness {
  readonly provider: CloudProvider;
  /** A type it launches. */
  readonly type: string;
  /** A type whose launch fails with a capacity error. */
  readonly capacityErrorType: string;
  /** An id that exists in the cloud but is not ours (or, where nothing else exists, a made-up one). */
  readonly foreignId: string;
  /** Lets time pass until launched instances have booted. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const implementations: Record<string, () => Harness> = {
  aws() {
    const clock = new SimClock(Date.parse('2026-01-01T00:00:00Z'));
    const ec2 = new FakeEc2(clock, 60_000);
    ec2.noCapacity.add('p4d.24xlarge');
    const provider = new Ec2Provider({ client: ec2.client, cluster: 'contract', launchTemplateOf: (pool) => `lt-${pool}`, priceOf: (t) => catalog.price(t), backendPort: 8000 });
    return {
      provider,
      type: 'c5.large',
      capacityErrorType: 'p4d.24xlarge',
      foreignId: 'i-0foreign0000000',
      settle: async () => clock.advanceTo(clock.now() + 60_000),
      close: async () => ec2.mock.restore(),
    };
  },
  local() {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-local-'));
    const provider = new LocalProvider({
      cluster: 'contract',
      stateFile: join(dir, 'state.json'),
      clock: new RealClock(),
      priceOf: (t) => catalog.price(t),
      model: 'rm2',
      bootDelayMs: 0,
      command: [process.execPath, '--import', 'tsx', TINY_NODE],
    });
    return {
      provider,
      type: 'c5.large',
      capacityErrorType: 'no.such-type',
      foreignId: 'local-9999-ffffffff',
      async settle() {
        const deadline = Date.now() + 15_000;
        while (Date.now() < deadline) {
          if ((await provider.list()).every((i) => i.state === 'running')) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      async close() {
        const left = await provider.list();
        if (left.length > 0) await provider.terminate(left.map((i) => i.id));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  sim() {
    const clock = new SimClock(0);
    const provider = new SimCloud({ clock, catalog, capacity: { 'p4d.24xlarge': 0 } });
    return {
      provider,
      type: 'c5.large',
      capacityErrorType: 'p4d.24xlarge',
      foreignId: 'i-not-simulated',
      settle: async () => clock.advanceTo(clock.now() + 180_000),
      close: async () => undefined,
    };
  },
};

const ids = (xs: readonly Instance[]) => xs.map((i) => i.id).sort();

for (const [name, make] of Object.entries(implementations)) {
  describe(`CloudProvider contract: ${name}`, function () {
    this.timeout(30_000);
    let h: Harness;
    beforeEach(() => {
      h = make();
    });
    afterEach(async () => {
      await h.close();
    });

    it('starts with nothing of its own', async () => {
      assert.deepEqual(await h.provider.list(), []);
    });

    it('launches the count asked for, of the type, into the pool, billed at a price', async () => {
      const got = await h.provider.launch({ type: h.type, pool: 'frugal', count: 2, clientToken: 'contract-a' });
      assert.equal(got.length, 2);
      for (const i of got) {
        assert.equal(i.type, h.type);
        assert.equal(i.pool, 'frugal');
        assert.ok(i.state === 'pending' || i.state === 'running');
        assert.ok(i.usdPerHour > 0);
      }
      assert.deepEqual(ids(await h.provider.list()), ids(got));
    });

    it('brings launched instances to running with an address', async () => {
      await h.provider.launch({ type: h.type, pool: 'frugal', count: 1, clientToken: 'contract-b' });
      await h.settle();
      const [i] = await h.provider.list();
      assert.equal(i?.state, 'running');
      assert.ok(i?.address !== undefined && i.address.length > 0);
    });

    it('launches once per clientToken: asking again returns the same instances', async () => {
      const a = await h.provider.launch({ type: h.type, pool: 'frugal', count: 2, clientToken: 'contract-c' });
      const b = await h.provider.launch({ type: h.type, pool: 'frugal', count: 2, clientToken: 'contract-c' });
      assert.deepEqual(ids(b), ids(a));
      assert.equal((await h.provider.list()).length, 2);
    });

    it('launches nothing for a count of zero', async () => {
      assert.deepEqual(await h.provider.launch({ type: h.type, pool: 'frugal', count: 0, clientToken: 'contract-d' }), []);
      assert.deepEqual(await h.provider.list(), []);
    });

    it('terminates what it owns: gone from the list, or shutting down (not billed) until it is gone', async () => {
      const got = await h.provider.launch({ type: h.type, pool: 'frugal', count: 2, clientToken: 'contract-e' });
      await h.provider.terminate([got[0]!.id]);
      const listed = await h.provider.list();
      assert.deepEqual(ids(listed.filter((i) => BILLED_STATES.has(i.state))), [got[1]!.id]);
      assert.ok(listed.every((i) => i.id === got[1]!.id || i.state === 'shutting-down'));
    });

    // describe() is optional: the providers that have it (EC2, local) keep this part of the contract.
    if (name === 'aws' || name === 'local') it('describes what it owns by id in any state, terminated included, and leaves out what it cannot see', async () => {
      const describe = h.provider.describe!.bind(h.provider);
      const got = await h.provider.launch({ type: h.type, pool: 'frugal', count: 2, clientToken: 'contract-g' });
      await h.provider.terminate([got[0]!.id]);
      await h.settle();
      const seen = await describe([got[0]!.id, got[1]!.id]);
      assert.deepEqual(ids(seen), ids(got));
      assert.ok(['shutting-down', 'terminated'].includes(seen.find((i) => i.id === got[0]!.id)!.state));
      assert.ok(BILLED_STATES.has(seen.find((i) => i.id === got[1]!.id)!.state));
      assert.deepEqual(await describe(['i-0000000000000dead']), []);
      // One id it cannot see does not hide the others.
      assert.deepEqual(ids(await describe([got[1]!.id, 'i-0000000000000dead'])), [got[1]!.id]);
    });

    it('refuses to terminate an instance it does not own, and terminates nothing of that call', async () => {
      const got = await h.provider.launch({ type: h.type, pool: 'frugal', count: 1, clientToken: 'contract-f' });
      await assert.rejects(h.provider.terminate([got[0]!.id, h.foreignId]), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_CLOUD_API' && e.details.retryable === false);
      assert.deepEqual(ids(await h.provider.list()), [got[0]!.id]);
    });

    it('reports a type it cannot launch as a capacity error naming the type', async () => {
      await assert.rejects(
        h.provider.launch({ type: h.capacityErrorType, pool: 'fast', count: 1, clientToken: 'contract-g' }),
        (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_CLOUD_CAPACITY' && e.details.type === h.capacityErrorType,
      );
      assert.deepEqual(await h.provider.list(), []);
    });
  });
}
