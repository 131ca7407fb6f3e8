import assert from 'node:assert/strict';
import { createRoutingPolicy } from '../../../policies/routing/index.ts';
import { backend, fakeView, request } from './fake-view.ts';

describe('shortest-expected-delay routing', () => {
  it('sends a request to an idle fast backend before an idle slow one', () => {
    const view = fakeView([backend('cpu', 'cpu', false), backend('gpu', 'gpu', true)], { cpu: 1.5, gpu: 1 });
    assert.equal(createRoutingPolicy('shortest-expected-delay').pick(request(100), view)?.id, 'gpu');
  });

  it('weighs queued work against the slower service time', () => {
    const view = fakeView([backend('cpu', 'cpu', false), backend('gpu', 'gpu', true, 1, 80)], { cpu: 1.5, gpu: 1 });
    const sed = createRoutingPolicy('shortest-expected-delay');
    assert.equal(sed.pick(request(100), view)?.id, 'cpu', 'gpu would finish at 180 ms, cpu at 150 ms');
    assert.equal(sed.pick(request(400), view)?.id, 'gpu', 'gpu would finish at 480 ms, cpu at 600 ms');
  });

  it('skips draining, full and unprofiled backends and says why it rejects', () => {
    const draining = { ...backend('a', 'gpu', true), accepting: false };
    const full = { ...backend('b', 'gpu', true, 100, 1000) };
    const unprofiled = backend('c', 'tpu', true);
    const sed = createRoutingPolicy('shortest-expected-delay');
    assert.equal(sed.pick(request(10), fakeView([draining, unprofiled], { gpu: 1 })), null);
    assert.equal(sed.lastRejectReason, 'no-backend');
    assert.equal(sed.pick(request(10), fakeView([draining, full], { gpu: 1 })), null);
    assert.equal(sed.lastRejectReason, 'overloaded');
  });
});
