import assert from 'node:assert/strict';
import type { BackendState, PoolView, RoutableRequest, RoutingPolicy } from '../../src/routing/types.ts';
import { WaitQueue } from '../../src/routing/waiting.ts';
import { backend, fakeView, request } from '../policies/routing/fake-view.ts';

const fifo: RoutingPolicy = { name: 'fifo', pick: () => null };

function req(size: number, arrivalMs: number, deadlineMs: number): RoutableRequest {
  return { ...request(size, deadlineMs), arrivalMs };
}

describe('late binding wait queue', () => {
  it('holds up to its limit and then refuses', () => {
    const q = new WaitQueue<string>(2);
    assert.ok(q.hold(request(1), 'a'));
    assert.ok(q.hold(request(1), 'b'));
    assert.equal(q.hold(request(1), 'c'), false);
    assert.equal(q.length, 2);
  });

  it('binds the oldest request to a free slot when the policy has no pickWaiting', () => {
    const q = new WaitQueue<string>(10);
    q.hold(req(5, 0, 100), 'old');
    q.hold(req(1, 1, 100), 'new');
    const b = backend('cpu', 'cpu', false);
    const view = fakeView([b], { cpu: 1 });
    assert.ok(q.bind(b, fifo, view));
    assert.equal(q.boundHandle, 'old');
    assert.equal(q.boundReq?.size, 5);
    assert.equal(q.length, 1);
  });

  it('never binds a retry to the backend that refused it; others still bind it', () => {
    const q = new WaitQueue<string>(10);
    const a = backend('a', 'cpu', false);
    const b = backend('b', 'cpu', false);
    const view = fakeView([a, b], { cpu: 1 });
    q.hold(req(1, 0, 100), 'retry', a);
    q.hold(req(1, 1, 100), 'fresh');
    assert.ok(q.bind(a, fifo, view));
    assert.equal(q.boundHandle, 'fresh', 'a skips the retry it refused');
    assert.equal(q.bind(a, fifo, view), false);
    assert.ok(q.bind(b, fifo, view));
    assert.equal(q.boundHandle, 'retry');
    assert.equal(q.length, 0);
  });

  it('binds nothing to a busy, draining or empty-queue backend', () => {
    const q = new WaitQueue<string>(10);
    const busy = backend('busy', 'cpu', false, 1);
    const draining: BackendState = { ...backend('d', 'cpu', false), accepting: false };
    const view = fakeView([busy, draining], { cpu: 1 });
    assert.equal(q.bind(backend('idle', 'cpu', false), fifo, view), false, 'empty queue');
    q.hold(request(1), 'x');
    assert.equal(q.bind(busy, fifo, view), false, 'its one slot is taken');
    assert.equal(q.bind(draining, fifo, view), false, 'draining');
    assert.equal(q.length, 1);
  });

  it("follows the policy's pickWaiting, which may leave the slot free", () => {
    const q = new WaitQueue<string>(10);
    q.hold(request(1), 'a');
    q.hold(request(2), 'b');
    const second: RoutingPolicy = { name: 's', pick: () => null, pickWaiting: () => 1 };
    const none: RoutingPolicy = { name: 'n', pick: () => null, pickWaiting: () => -1 };
    const b = backend('cpu', 'cpu', false);
    const view: PoolView = fakeView([b], { cpu: 1 });
    assert.equal(q.bind(b, none, view), false);
    assert.ok(q.bind(b, second, view));
    assert.equal(q.boundHandle, 'b');
  });

  it('expires the requests whose deadline has passed, in any position, keeping the rest in order', () => {
    const q = new WaitQueue<string>(10);
    q.hold(req(1, 0, 100), 'a');
    q.hold(req(1, 0, 50), 'b');
    q.hold(req(1, 0, Infinity), 'c');
    q.hold(req(1, 0, 60), 'd');
    const gone: string[] = [];
    assert.equal(q.expire(60, (h) => gone.push(h)), 2);
    assert.deepEqual(gone, ['b', 'd']);
    assert.deepEqual(q.drainAll(), ['a', 'c']);
    assert.equal(q.length, 0);
  });

  it('removes by position (for batching) and reports what it held', () => {
    const q = new WaitQueue<number>(10);
    q.hold(request(3), 30);
    q.hold(request(4), 40);
    const lane = q.lane(request(1).model)!;
    assert.equal(lane.at(1)?.size, 4);
    assert.equal(lane.removeAt(1), 40);
    assert.equal(lane.at(1), undefined);
    assert.equal(q.length, 1);
  });
});
