import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RealClock } from '../../../src/core/clock.ts';
import { MultiExitModel } from '../../../src/node/edge/model.ts';
import { ExitScheduler, type ExitResult } from '../../../src/node/edge/scheduler.ts';
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
    for (let s = 0; s < 3; s++) latency.record(s, 1, [1, 3, 7][s]!);
    return new ExitScheduler(model, latency, new RealClock(), { policy: 'predictive', percentile: 0.99, confidenceThreshold: 0.95, maxBatchRows });
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
