import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RealClock } from '../../src/core/clock.ts';
import { FleetWatch } from '../../src/load/fleet-watch.ts';

/** A server answering the n-th GET /v1/snapshot (from 1) with `answer(n, req, res)`. */
async function snapshots(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; polls: () => number; close: () => void }> {
  let n = 0;
  const server = createServer((req, res) => answer(++n, req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    polls: () => n,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const pools = (backends: number): string => JSON.stringify({ pools: [{ pool: 'cpu', type: 'r5n.large', backends }] });

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for: ${what}`);
}

describe('FleetWatch (the load report’s fleet over time)', () => {
  it('skips a poll that gets no answer and goes on watching: a later change of the fleet is still reported', async () => {
    // Poll 2's connection is dropped (a router too busy to answer, a reset); the fleet grows after it.
    const s = await snapshots((n, req, res) => {
      if (n === 2) return void req.socket.destroy();
      res.setHeader('content-type', 'application/json');
      res.end(pools(n === 1 ? 1 : 3));
    });
    try {
      const w = new FleetWatch(s.url, new RealClock(), 5);
      w.start(0);
      await until(() => s.polls() >= 4, 'four polls');
      const samples = await w.stop();
      assert.deepEqual(samples.map((x) => x.mix), [{ 'r5n.large': 1 }, { 'r5n.large': 3 }]);
    } finally {
      s.close();
    }
  });

  it('stops at a target whose answer is not a snapshot (a node)', async () => {
    const s = await snapshots((_n, req, res) => {
      req.resume();
      res.statusCode = 404;
      res.end('{"error":"not found (OIP v2 routes are under /v2)"}');
    });
    try {
      const w = new FleetWatch(s.url, new RealClock(), 5);
      w.start(0);
      await until(() => s.polls() >= 1, 'the first poll');
      assert.deepEqual(await w.stop(), []);
      assert.equal(s.polls(), 1);
    } finally {
      s.close();
    }
  });
});
