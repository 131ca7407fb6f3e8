import assert from 'node:assert/strict';
import { erlangC, mgcWait, waitTail } from '../../src/model/queueing.ts';

describe('queueing: Erlang-C and Allen–Cunneen', () => {
  it('gives P(wait) = ρ for one server', () => {
    for (const rho of [0.1, 0.5, 0.9]) assert.ok(Math.abs(erlangC(1, rho) - rho) < 1e-12);
  });

  it('matches the closed form for two servers: C = a² / (2 + a)', () => {
    for (const a of [0.4, 1, 1.6]) assert.ok(Math.abs(erlangC(2, a) - (a * a) / (2 + a)) < 1e-12, `a=${a}`);
  });

  it('matches M/M/c mean wait C·E[S]/(c − a) for exponential service and halves it for deterministic service', () => {
    const mm = mgcWait(4, 3 / 100, 100, 1);
    const c = erlangC(4, 3);
    assert.ok(Math.abs(mm.meanWaitMs - (c * 100) / (4 - 3)) < 1e-9);
    const md = mgcWait(4, 3 / 100, 100, 0);
    assert.ok(Math.abs(md.meanWaitMs - mm.meanWaitMs / 2) < 1e-9);
  });

  it('reports an overloaded pool as waiting forever', () => {
    const w = mgcWait(2, 2 / 100, 100, 0);
    assert.equal(w.rho, 1);
    assert.equal(waitTail(w, 1e6), 1);
  });

  it('has a wait tail that starts at P(wait) and decays with the conditional mean', () => {
    const w = mgcWait(3, 2 / 50, 50, 0.5);
    assert.ok(Math.abs(waitTail(w, 0) - w.pWait) < 1e-12);
    assert.ok(Math.abs(waitTail(w, w.thetaMs) - w.pWait / Math.E) < 1e-12);
    assert.equal(waitTail(w, -1), 1);
  });

  it('waits less with more servers at the same utilization (pooling)', () => {
    const small = mgcWait(2, 1.6 / 100, 100, 0);
    const big = mgcWait(20, 16 / 100, 100, 0);
    assert.ok(big.meanWaitMs < small.meanWaitMs / 3);
  });
});
