import assert from 'node:assert/strict';
import { createRoutingPolicy } from '../../../policies/routing/index.ts';
import { backend, fakeView, request } from './fake-view.ts';

describe('heterogeneity-aware routing', () => {
  it('sends small requests wherever they finish first', () => {
    const view = fakeView([backend('cpu', 'cpu', false), backend('gpu', 'gpu', true, 1, 100)], { cpu: 1.5, gpu: 1 });
    assert.equal(createRoutingPolicy('heterogeneity-aware').pick(request(100, 350), view)?.id, 'cpu');
  });

  it('sends a request too large for frugal types to a fast backend even when a frugal one would finish first', () => {
    // cpu: 1.5 × 240 = 360 ms > 350 ms, so the request counts as large; the gpu would finish at 370 ms.
    const view = fakeView([backend('cpu', 'cpu', false), backend('gpu', 'gpu', true, 1, 130)], { cpu: 1.5, gpu: 1 });
    assert.equal(createRoutingPolicy('heterogeneity-aware', { rejectLate: false }).pick(request(240, 350), view)?.id, 'gpu');
    assert.equal(createRoutingPolicy('shortest-expected-delay').pick(request(240, 350), view)?.id, 'cpu');
  });

  it('sends critical requests to fast backends', () => {
    const view = fakeView([backend('cpu', 'cpu', false), backend('gpu', 'gpu', true, 1, 50)], { cpu: 1.2, gpu: 1 });
    assert.equal(createRoutingPolicy('heterogeneity-aware').pick(request(100, 1000, true), view)?.id, 'gpu');
  });

  it('rejects early, with reason deadline, a request no backend can finish in time', () => {
    const view = fakeView([backend('cpu', 'cpu', false, 4, 1000), backend('gpu', 'gpu', true, 4, 800)], { cpu: 1.5, gpu: 1 });
    const p = createRoutingPolicy('heterogeneity-aware');
    assert.equal(p.pick(request(100, 350), view), null);
    assert.equal(p.lastRejectReason, 'deadline');
    assert.equal(createRoutingPolicy('heterogeneity-aware', { rejectLate: false }).pick(request(100, 350), view)?.id, 'gpu');
  });

  it('does not reject a request that only looks late because the work in service is counted whole', () => {
    // gpu: 300 ms in service + 100 ms = 400 ms > 350 ms by the plain estimate, but the in-service request may be nearly done.
    const view = fakeView([backend('gpu', 'gpu', true, 1, 300)], { gpu: 1 });
    assert.equal(createRoutingPolicy('heterogeneity-aware').pick(request(100, 350), view)?.id, 'gpu');
  });

  it('keeps an idle fast backend free when frugalFirst lets a frugal one finish within that share of the budget', () => {
    const view = fakeView([backend('cpu', 'cpu', false), backend('gpu', 'gpu', true)], { cpu: 1.5, gpu: 1 });
    assert.equal(createRoutingPolicy('heterogeneity-aware').pick(request(100, 350), view)?.id, 'gpu');
    assert.equal(createRoutingPolicy('heterogeneity-aware', { frugalFirst: 0.7 }).pick(request(100, 350), view)?.id, 'cpu', '150 ms ≤ 0.7 × 350 ms');
    assert.equal(createRoutingPolicy('heterogeneity-aware', { frugalFirst: 0.7 }).pick(request(200, 350), view)?.id, 'gpu', '300 ms > 0.7 × 350 ms');
  });

  it('names an unknown option', () => {
    assert.throws(() => createRoutingPolicy('heterogeneity-aware', { largeFraktion: 0.5 }), /largeFraktion/);
  });
});
