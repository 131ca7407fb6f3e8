import { Rng } from '../../../src/core/rng.ts';
import type { BackendState, PoolView, RoutableRequest } from '../../../src/routing/types.ts';

/** A pool view whose service time is size × msPerUnit of the backend's type. */
export function fakeView(backends: BackendState[], msPerUnit: Record<string, number>, nowMs = 0, lateBinding = false): PoolView {
  return {
    lateBinding,
    backends,
    rng: new Rng(1),
    now: () => nowMs,
    expectedServiceMs: (b, req) => (msPerUnit[b.type] === undefined ? NaN : msPerUnit[b.type]! * req.size),
  };
}

export function backend(id: string, type: string, fast: boolean, outstanding = 0, pendingWorkMs = 0): BackendState {
  return { id, type, pool: type, fast, slots: 1, maxOutstanding: 100, outstanding, pendingWorkMs, accepting: true };
}

export function request(size: number, deadlineMs = Infinity, critical = false): RoutableRequest {
  return { model: 'm', classIndex: 0, size, arrivalMs: 0, deadlineMs, critical };
}
