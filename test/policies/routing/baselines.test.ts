import assert from 'node:assert/strict';
import { createRoutingPolicy } from '../../../policies/routing/index.ts';
import type { BackendState } from '../../../src/routing/types.ts';
import { backend, fakeView, request } from './fake-view.ts';

function fleet(outstanding: number[]): BackendState[] {
  return outstanding.map((n, i) => backend(`b${i}`, i === 0 ? 'fast' : 'slow', i === 0, n));
}

describe('baseline routing policies', () => {
  it('round-robin visits every accepting backend in turn and skips draining ones', () => {
    const bs = fleet([0, 0, 0, 0]);
    bs[2]!.accepting = false;
    const rr = createRoutingPolicy('round-robin');
    const view = fakeView(bs, { fast: 1, slow: 2 });
    const picks = Array.from({ length: 6 }, () => rr.pick(request(10), view)!.id);
    assert.deepEqual(picks, ['b0', 'b1', 'b3', 'b0', 'b1', 'b3']);
  });

  it('least-outstanding picks the fewest outstanding per slot, blind to speed', () => {
    const bs = fleet([3, 1, 2]);
    bs.push({ ...backend('wide', 'slow', false, 4), slots: 8 });
    const lo = createRoutingPolicy('least-outstanding');
    assert.equal(lo.pick(request(500), fakeView(bs, { fast: 1, slow: 10 }))!.id, 'wide');
  });

  it('p2c picks the less loaded of two random backends, reproducibly for a seed', () => {
    const bs = fleet([9, 0]);
    const p2c = createRoutingPolicy('p2c');
    // With two backends both are always drawn: the idle one wins every time.
    for (let i = 0; i < 20; i++) assert.equal(p2c.pick(request(1), fakeView(bs, { fast: 1, slow: 1 }))!.id, 'b1');
    const many = fleet([5, 1, 7, 2, 6, 3, 4, 8]);
    const a = Array.from({ length: 50 }, () => createRoutingPolicy('p2c').pick(request(1), fakeView(many, { fast: 1, slow: 1 }))!.id);
    const b = Array.from({ length: 50 }, () => createRoutingPolicy('p2c').pick(request(1), fakeView(many, { fast: 1, slow: 1 }))!.id);
    assert.deepEqual(a, b);
    assert.ok(!a.includes('b7'), 'the most loaded backend never wins a pair');
  });

  it('each says why it rejects: no backend, or all full', () => {
    for (const name of ['round-robin', 'least-outstanding', 'p2c']) {
      const none = createRoutingPolicy(name);
      assert.equal(none.pick(request(1), fakeView([], {})), null);
      assert.equal(none.lastRejectReason, 'no-backend');
      const full = fleet([100, 100]);
      const p = createRoutingPolicy(name);
      assert.equal(p.pick(request(1), fakeView(full, { fast: 1, slow: 1 })), null);
      assert.equal(p.lastRejectReason, 'overloaded');
    }
  });
});
