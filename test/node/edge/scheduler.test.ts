import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RealClock, SimClock, settle } from '../../../src/core/clock.ts';
import { MultiExitModel } from '../../../src/node/edge/model.ts';
import { ClientGoneError, ExitScheduler, NonFiniteOutputError, type ExitResult } from '../../../src/node/edge/scheduler.ts';
import { StageLatency } from '../../../src/node/edge/stage-latency.ts';

const MODEL_DIR = fileURLToPath(new URL('../../../models/digits-cnn', import.meta.url));
const digits = readFileSync(`${MODEL_DIR}/digits-test.csv`, 'utf8').trim().split('\n').slice(1, 9).map((l) => Float32Array.from(l.split(',').slice(1).map(Number)));
const ALL_STAGES = { minExit: 2, maxExit: 2 };

describe('exit scheduler', function () {
  this.timeout(30_000);
  let model: MultiExitModel;

  before(async () => {
    model = await MultiExitModel.load(MODEL_DIR);
  });
  after(async () => model.release());

  function scheduler(maxBatchRows: number, latency = new StageLatency(3)): ExitScheduler {
    for (let s = 0; s < 3; s++) latency.record(s, 1, [1, 3, 7][s]!, 0);
    return new ExitScheduler(model, latency, new RealClock(), { policy: 'predictive', percentile: 0.99, confidenceThreshold: 0.95, maxBatchRows, probeEveryMs: 0 });
  }

  it('batches requests that wait together through every stage and gives each the same answer as alone', async () => {
    const clock = new RealClock();
    const alone = scheduler(1);
    const single: ExitResult[] = [];
    for (const d of digits) single.push(await alone.submit(d, 1, ALL_STAGES, clock.now()));
    const latency = new StageLatency(3);
    const batched = scheduler(4, latency);
    const together = await Promise.all(digits.map((d) => batched.submit(d, 1, ALL_STAGES, clock.now())));
    together.forEach((r, i) => {
      assert.equal(r.exit, 3);
      const a = single[i]!.probs;
      r.probs.forEach((p, k) => assert.ok(Math.abs(p - a[k]!) < 1e-5, `request ${i} class ${k}: ${p} vs ${a[k]}`));
    });
    // The first request starts alone; the seven that queued behind it run as batches of 4 and 3.
    assert.ok(latency.count(0, 4) >= 1 && latency.count(0, 3) >= 1, 'no batched stage runs recorded');
  });

  it('leaves no abort listener on a signal once the request is answered', async () => {
    const s = scheduler(1);
    const shared = new AbortController();
    for (let i = 0; i < 3; i++) await s.submit(digits[i]!, 1, ALL_STAGES, new RealClock().now(), shared.signal);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
  });

  it('while idle, re-measures a stage the exit policy has stopped starting', async () => {
    const clock = new SimClock();
    const latency = new StageLatency(3);
    for (let s = 0; s < 3; s++) latency.record(s, 1, [1, 30, 70][s]!, 0); // stage 2 looks far too slow
    const s = new ExitScheduler(model, latency, clock, { policy: 'predictive', percentile: 0.99, confidenceThreshold: 0.999, maxBatchRows: 1, probeEveryMs: 1000 });
    try {
      const r = await s.submit(digits[0]!, 1, { latencyMs: 10, minExit: 0, maxExit: 2 }, clock.now());
      assert.equal(r.exit, 1);
      assert.equal(r.reason, 'latency');
      assert.equal(latency.count(1, 1), 1);
      await settle(); // the worker finishes its loop
      await clock.advanceToSettled(1000);
      for (let i = 0; i < 50 && latency.count(1, 1) < 2; i++) await new Promise((res) => setTimeout(res, 5));
      assert.equal(latency.count(1, 1), 2, 'stage 2 was probed');
    } finally {
      s.stop();
    }
  });

  it('stops a request whose rows give a NaN output with an error naming the row, and answers the requests batched with it', async () => {
    const s = scheduler(8);
    const clock = new RealClock();
    const huge = new Float32Array(128);
    huge.set(digits[1]!, 0);
    huge.fill(1e38, 64);
    const first = s.submit(digits[0]!, 1, ALL_STAGES, clock.now()); // runs alone; the next two wait and run together
    const bad = s.submit(huge, 2, ALL_STAGES, clock.now());
    const good = s.submit(digits[2]!, 1, ALL_STAGES, clock.now());
    await assert.rejects(bad, (e: unknown) => e instanceof NonFiniteOutputError && e.row === 1 && e.exit === 1);
    const [a, b] = await Promise.all([first, good]);
    assert.equal(a.exit, 3);
    assert.equal(b.exit, 3);
    assert.ok(b.probs.every(Number.isFinite));
  });

  it('drops a request whose client went away: from the queue at once, from a running batch before its next stage', async () => {
    const latency = new StageLatency(3);
    const clock = new RealClock();
    const rows = (n: number): Float32Array => {
      const d = new Float32Array(64 * n);
      for (let r = 0; r < n; r++) d.set(digits[r]!, 64 * r);
      return d;
    };
    // A model that reports each stage it starts, so the test can hang up at a stage boundary.
    const started: Array<[number, number]> = [];
    const hangUps = new Map<string, AbortController>();
    const watched = Object.create(model) as MultiExitModel;
    watched.runStage = (stage, input) => {
      started.push([stage, input.dims[0]!]);
      hangUps.get(`${stage},${input.dims[0]}`)?.abort();
      return model.runStage(stage, input);
    };
    for (let st = 0; st < 3; st++) latency.record(st, 1, [1, 3, 7][st]!, 0);
    const s = new ExitScheduler(watched, latency, clock, { policy: 'predictive', percentile: 0.99, confidenceThreshold: 0.95, maxBatchRows: 1, probeEveryMs: 0 });
    const running = new AbortController();
    hangUps.set('0,3', running); // the 3-row request's client hangs up while its first stage runs
    const queued = new AbortController();
    const a = s.submit(rows(3), 3, ALL_STAGES, clock.now(), running.signal);
    const b = s.submit(rows(2), 2, ALL_STAGES, clock.now(), queued.signal);
    const c = s.submit(rows(1), 1, ALL_STAGES, clock.now());
    queued.abort(); // b's client hangs up while it waits
    await assert.rejects(b, ClientGoneError);
    await assert.rejects(a, ClientGoneError);
    assert.equal((await c).exit, 3);
    assert.deepEqual(started, [[0, 3], [0, 1], [1, 1], [2, 1]], 'a ran one stage, b none');
    await assert.rejects(s.submit(rows(1), 1, ALL_STAGES, clock.now(), AbortSignal.abort()), ClientGoneError);
  });

  it('answers a multi-row request row by row with the exit all its rows take', async () => {
    const s = scheduler(1);
    const both = new Float32Array(128);
    both.set(digits[0]!, 0);
    both.set(digits[1]!, 64);
    const r = await s.submit(both, 2, ALL_STAGES, new RealClock().now());
    assert.equal(r.probs.length, 20);
    assert.equal(r.exit, 3);
  });
});

describe('stage latency', () => {
  it('judges a bound impossible by the largest row count measured at all (the warm-up batch runs count), not the one-row figure scaled', () => {
    const l = new StageLatency(1);
    for (let i = 0; i < 30; i++) l.record(0, 1, 1, i); // one row: 1 ms
    for (let i = 0; i < 4; i++) l.record(0, 8, 2, 40 + i); // a few warm-up runs at 8 rows: 2 ms (batching helps)
    assert.ok(Math.abs(l.floorMs(0, 8) - 2) < 0.01, `8 rows: ${l.floorMs(0, 8)} ms`);
    assert.ok(Math.abs(l.floorMs(0, 16) - 4) < 0.01, `16 rows: from the 8-row runs, ${l.floorMs(0, 16)} ms`);
    assert.ok(Math.abs(l.floorMs(0, 1) - 1) < 0.01, 'one row: the one-row runs');
    assert.equal(l.quantile(0, 8, 0.5), 8, 'planning still scales the one-row figure until 20 runs at 8 rows');
    // Never above the planning estimate (a slow first batch shape does not raise the floor).
    const slow = new StageLatency(1);
    for (let i = 0; i < 30; i++) slow.record(0, 1, 1, i);
    for (let i = 0; i < 3; i++) slow.record(0, 2, 50, 40 + i);
    assert.equal(slow.floorMs(0, 8), 8);
  });

  it('forgets an old burst at a row count in the floor too', () => {
    const l = new StageLatency(1, 1000);
    for (let i = 0; i < 5; i++) l.record(0, 2, 400, i); // a contended burst at 2 rows, long ago
    for (let i = 0; i < 30; i++) l.record(0, 1, 1, 100_000 + i);
    assert.ok(Math.abs(l.floorMs(0, 4) - 4) < 0.01, `4 rows: ${l.floorMs(0, 4)} ms`);
  });

  it('forgets a row count not run for two windows, falling back to the one-row figure × rows, so a slow burst there is not kept for good', () => {
    const l = new StageLatency(1, 1000);
    for (let i = 0; i < 30; i++) l.record(0, 2, 400, i); // a contended burst at 2 rows
    for (let i = 0; i < 30; i++) l.record(0, 1, 5, 100 + i);
    assert.ok(l.quantile(0, 2, 0.99) >= 399);
    l.record(0, 1, 5, 1500); // only one-row runs (probes) since
    assert.ok(l.quantile(0, 2, 0.99) >= 399, 'within two windows the burst still counts');
    l.record(0, 1, 5, 2100);
    assert.ok(Math.abs(l.quantile(0, 2, 0.99) - 10) < 0.1, `p99 at 2 rows: ${l.quantile(0, 2, 0.99)}`);
    l.record(0, 2, 12, 2200);
    assert.equal(l.count(0, 2), 1, 'measured afresh');
    assert.equal(l.count(0, 1), 32, 'the one-row histogram is kept');
  });

  it('forgets runs older than two windows, so a burst of slow runs stops weighing on the plan', async () => {
    const { StageLatency } = await import('../../../src/node/edge/stage-latency.ts');
    const l = new StageLatency(1, 1000);
    for (let i = 0; i < 50; i++) l.record(0, 1, 40, i); // a contended burst
    assert.ok(l.quantile(0, 1, 0.99) >= 39);
    for (let i = 0; i < 50; i++) l.record(0, 1, 2, 1500 + i); // next window: fast again
    assert.ok(l.quantile(0, 1, 0.99) >= 39, 'the previous window still counts');
    for (let i = 0; i < 50; i++) l.record(0, 1, 2, 2600 + i);
    assert.ok(l.quantile(0, 1, 0.99) < 2.1, `p99 ${l.quantile(0, 1, 0.99)}`);
  });
});
