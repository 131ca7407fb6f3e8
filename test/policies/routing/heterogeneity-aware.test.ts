import assert from 'node:assert/strict';
import { createRoutingPolicy } from '../../../policies/routing/index.ts';
import type { BackendState, RoutableRequest } from '../../../src/routing/types.ts';
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

  describe('with late binding (each backend holds at most its slots)', () => {
    const lb = (id: string, type: string, fast: boolean, outstanding = 0): BackendState => ({ ...backend(id, type, fast, outstanding, outstanding * 100), maxOutstanding: 1 });
    const at = (size: number, arrivalMs: number, deadlineMs: number): RoutableRequest => ({ ...request(size, deadlineMs), arrivalMs });

    it('sends a critical request to a free frugal backend that meets its deadline when the busy fast one is not expected to', () => {
      // gpu busy with 261 ms of work; the request: 5 ms on the gpu, 6 ms on the cpu, 150 ms deadline.
      const gpu = { ...lb('gpu', 'gpu', true, 1), pendingWorkMs: 261 };
      const view = fakeView([lb('cpu', 'cpu', false), gpu], { cpu: 0.6, gpu: 0.5 }, 0, true);
      assert.equal(createRoutingPolicy('heterogeneity-aware').pick(request(10, 150, true), view)?.id, 'cpu');
      // A busy gpu expected to free in time is still worth the wait.
      const soon = fakeView([lb('cpu', 'cpu', false), { ...gpu, pendingWorkMs: 20 }], { cpu: 0.6, gpu: 0.5 }, 0, true);
      assert.equal(createRoutingPolicy('heterogeneity-aware').pick(request(10, 150, true), soon), null);
    });

    it('waits for a busy fast backend rather than bind a large request to a free frugal one', () => {
      // cpu: 1.5 × 240 = 360 ms > 350 ms: only the gpu can serve it in time.
      const view = fakeView([lb('cpu', 'cpu', false), lb('gpu', 'gpu', true, 1)], { cpu: 1.5, gpu: 1 }, 0, true);
      const p = createRoutingPolicy('heterogeneity-aware');
      assert.equal(p.pick(request(240, 350), view), null);
      assert.equal(p.lastRejectReason, 'overloaded', 'overloaded: the router holds it');
      // Without late binding it goes to the cpu and is late.
      const arrival = fakeView([lb('cpu', 'cpu', false), lb('gpu', 'gpu', true, 1)], { cpu: 1.5, gpu: 1 });
      assert.equal(createRoutingPolicy('heterogeneity-aware', { rejectLate: false }).pick(request(240, 350), arrival)?.id, 'cpu');
    });

    it('gives a freed slot the waiting request with the least slack, not the oldest', () => {
      const cpu = lb('cpu', 'cpu', false);
      const view = fakeView([cpu, lb('gpu', 'gpu', true, 1)], { cpu: 1, gpu: 0.5 }, 100, true);
      // Latest start times: 350 − 10 = 340, 360 − 200 = 160, 400 − 100 = 300.
      const waiting = [at(10, 0, 350), at(200, 10, 360), at(100, 50, 400)];
      assert.equal(createRoutingPolicy('heterogeneity-aware').pickWaiting!(cpu, waiting, view), 1);
    });

    it('keeps the requests only a fast backend can serve for the fast slots', () => {
      const cpu = lb('cpu', 'cpu', false);
      const gpu = lb('gpu', 'gpu', true);
      const view = fakeView([cpu, gpu], { cpu: 1.5, gpu: 1 }, 0, true);
      const waiting = [at(240, 0, 350), at(50, 0, 350)];
      const p = createRoutingPolicy('heterogeneity-aware');
      assert.equal(p.pickWaiting!(cpu, waiting, view), 1, 'the cpu takes the small one');
      assert.equal(p.pickWaiting!(gpu, waiting, view), 0, 'the gpu takes the large one first');
      assert.equal(p.pickWaiting!(cpu, [waiting[0]!], view), -1, 'the cpu leaves the large one for the gpu');
    });

    it('waits for a busy backend that would finish a request sooner than the free ones', () => {
      // gpu busy with 20 ms of work: 20 + 100 = 120 ms; the free cpu: 300 ms.
      const view = fakeView([lb('cpu', 'cpu', false), { ...lb('gpu', 'gpu', true, 1), pendingWorkMs: 20 }], { cpu: 3, gpu: 1 }, 0, true);
      const p = createRoutingPolicy('heterogeneity-aware');
      assert.equal(p.pick(request(100, 1000), view), null);
      assert.equal(p.lastRejectReason, 'overloaded');
      // A small request finishes sooner on the free cpu (30 ms) than behind the gpu's work (30 ms + 10): it goes now.
      assert.equal(p.pick(request(10, 1000), view)?.id, 'cpu');
    });

    it('turns away at once a request no backend could serve in time, instead of holding it until its deadline', () => {
      // Both busy; the request takes 300 ms on the cpu and 100 ms on the gpu, with 50 ms left.
      const view = fakeView([lb('cpu', 'cpu', false, 1), lb('gpu', 'gpu', true, 1)], { cpu: 3, gpu: 1 }, 300, true);
      const p = createRoutingPolicy('heterogeneity-aware');
      assert.equal(p.pick(at(100, 0, 350), view), null);
      assert.equal(p.lastRejectReason, 'deadline');
      assert.equal(p.pick(at(10, 0, 350), view), null);
      assert.equal(p.lastRejectReason, 'overloaded', 'a small one (10 ms on the gpu) waits');
      const patient = createRoutingPolicy('heterogeneity-aware', { rejectLate: false });
      assert.equal(patient.pick(at(100, 0, 350), view), null);
      assert.equal(patient.lastRejectReason, 'overloaded', 'rejectLate off: it waits and is served late');
    });

    it('has a frugal slot leave to the fast slots a request they would finish much sooner', () => {
      const cpu = lb('cpu', 'cpu', false);
      const gpu = { ...lb('gpu', 'gpu', true, 1), pendingWorkMs: 20 };
      const view = fakeView([cpu, gpu], { cpu: 3, gpu: 1 }, 0, true);
      const p = createRoutingPolicy('heterogeneity-aware');
      // 300 ms here against 20 + 100 ms on the gpu: left for the gpu; a size-10 request (30 vs 30 ms) is taken.
      assert.equal(p.pickWaiting!(cpu, [at(100, 0, 1000)], view), -1);
      assert.equal(p.pickWaiting!(cpu, [at(100, 0, 1000), at(10, 0, 1000)], view), 1);
    });

    it('leaves a frugal slot idle rather than start a request it would finish late, unless rejectLate is off', () => {
      const cpu = lb('cpu', 'cpu', false);
      const view = fakeView([cpu], { cpu: 1 }, 300, true);
      const waiting = [at(100, 0, 350)];
      assert.equal(createRoutingPolicy('heterogeneity-aware').pickWaiting!(cpu, waiting, view), -1);
      assert.equal(createRoutingPolicy('heterogeneity-aware', { rejectLate: false }).pickWaiting!(cpu, waiting, view), 0);
    });
  });
});
