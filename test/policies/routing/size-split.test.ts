import assert from 'node:assert/strict';
import { createRoutingPolicy } from '../../../policies/routing/index.ts';
import { backend, fakeView, request } from './fake-view.ts';

describe('size-split routing', () => {
  const view = fakeView([backend('cpu', 'cpu', false, 3, 900), backend('gpu', 'gpu', true)], { cpu: 1.5, gpu: 1 });

  it('sends requests at or above the threshold to fast backends and smaller ones to frugal backends', () => {
    const p = createRoutingPolicy('size-split', { threshold: 300 });
    assert.equal(p.pick(request(300), view)?.id, 'gpu');
    assert.equal(p.pick(request(299), view)?.id, 'cpu', 'even though the gpu is idle');
  });

  it('falls back to the other group when the preferred one has no backend', () => {
    const p = createRoutingPolicy('size-split', { threshold: 300 });
    assert.equal(p.pick(request(10), fakeView([backend('gpu', 'gpu', true)], { gpu: 1 }))?.id, 'gpu');
  });

  it('rejects a threshold that is not a positive number, naming the option', () => {
    assert.throws(() => createRoutingPolicy('size-split', { threshold: 'big' }), /routing\.options\.threshold/);
  });
});
