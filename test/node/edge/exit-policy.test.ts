import assert from 'node:assert/strict';
import { decideExits, type ExitCandidate, type ExitContext } from '../../../src/node/edge/exit-policy.ts';

/** Stage times like the digits CNN's: 1, 3 and 7 ms per row at the planning percentile. */
const STAGE_MS = [1, 3, 7];

function ctx(over: Partial<ExitContext> & { done: number; now: number }): ExitContext {
  return {
    stageCount: 3,
    confidenceThreshold: 0.95,
    stageMs: (s, rows) => STAGE_MS[s]! * rows,
    queueSlackMs: () => Infinity,
    ...over,
  };
}

function job(over: Partial<ExitCandidate> = {}): ExitCandidate {
  return { deadlineMs: Infinity, minExit: 0, maxExit: 2, rows: 1, confidence: 0.5, ...over };
}

describe('exit policy', () => {
  describe('under a latency bound', () => {
    it('predictive starts the next stage when its planned time still fits the deadline', () => {
      assert.deepEqual(decideExits('predictive', [job({ deadlineMs: 10 })], ctx({ done: 0, now: 1 })), [null]);
    });

    it('predictive stops before a stage that would finish past the deadline', () => {
      // Finished stage 2 at 4 ms; stage 3 takes 7 ms; deadline 10 ms.
      assert.deepEqual(decideExits('predictive', [job({ deadlineMs: 10 })], ctx({ done: 1, now: 4 })), ['latency']);
    });

    it('reactive runs the same stage because time is left, and so overshoots the bound', () => {
      assert.deepEqual(decideExits('reactive', [job({ deadlineMs: 10 })], ctx({ done: 1, now: 4 })), [null]);
    });

    it('reactive stops only once the bound has already passed', () => {
      assert.deepEqual(decideExits('reactive', [job({ deadlineMs: 10 })], ctx({ done: 0, now: 10 })), ['latency']);
    });

    it('predictive plans with the batch the stage would run: two rows take twice as long', () => {
      const a = job({ deadlineMs: 10 });
      const b = job({ deadlineMs: 10 });
      // One row: 4 + 3 = 7 ≤ 10 fits; two rows: 4 + 6 = 10 fits; three would not, so two go on.
      assert.deepEqual(decideExits('predictive', [a, b], ctx({ done: 0, now: 4 })), [null, null]);
      assert.deepEqual(decideExits('predictive', [a, b, job({ deadlineMs: 10 })], ctx({ done: 0, now: 4 })), [null, null, 'latency']);
    });

    it('predictive keeps going the requests with the latest deadlines, and on a tie the least confident', () => {
      // At 4 ms, stage 2 on k rows ends at 4 + 3k: one row fits a 7 ms deadline, two a 10 ms one.
      const out = decideExits('predictive', [job({ deadlineMs: 7 }), job({ deadlineMs: 10, confidence: 0.9 }), job({ deadlineMs: 10, confidence: 0.3 })], ctx({ done: 0, now: 4 }));
      assert.deepEqual(out, ['latency', null, null]);
      const tie = decideExits('predictive', [job({ deadlineMs: 7, confidence: 0.9 }), job({ deadlineMs: 7, confidence: 0.3 })], ctx({ done: 0, now: 4 }));
      assert.deepEqual(tie, ['latency', null]);
    });

    it('predictive counts the rows that must run the stage anyway (accuracy bound) in the batch an optional row joins', () => {
      // A mandatory row and an optional one: 4 + 2 × 3 = 10 > 9, so the optional one stops, though alone it would fit (7).
      const out = decideExits('predictive', [job({ minExit: 1 }), job({ deadlineMs: 9 })], ctx({ done: 0, now: 4 }));
      assert.deepEqual(out, [null, 'latency']);
      assert.deepEqual(decideExits('predictive', [job({ minExit: 1 }), job({ deadlineMs: 10 })], ctx({ done: 0, now: 4 })), [null, null]);
    });

    it('predictive adds optional rows only while the requests that must run the stage still meet their deadlines, later stages included', () => {
      // A needs stage 3 (minExit 2); at 4 ms, stage 2 takes 3 ms for A alone, then stage 3 7 ms: A ends at 14.
      // With B's row, stage 2 takes 6 ms and A ends at 17: B goes on only when A's deadline is 17 or later.
      const a = (deadlineMs: number) => job({ minExit: 2, deadlineMs });
      const b = job({ deadlineMs: 300 });
      assert.deepEqual(decideExits('predictive', [a(16), b], ctx({ done: 0, now: 4 })), [null, 'latency']);
      assert.deepEqual(decideExits('predictive', [a(17), b], ctx({ done: 0, now: 4 })), [null, null]);
      // At the last stage: A alone ends at 4 + 7 = 11, with B at 4 + 14 = 18.
      assert.deepEqual(decideExits('predictive', [a(17), b], ctx({ done: 1, now: 4 })), [null, 'latency']);
      assert.deepEqual(decideExits('predictive', [a(18), b], ctx({ done: 1, now: 4 })), [null, null]);
    });

    it('predictive does not hold optional rows back for a request that must run the stage but misses its deadline anyway', () => {
      assert.deepEqual(decideExits('predictive', [job({ minExit: 2, deadlineMs: 10 }), job({ deadlineMs: 300 })], ctx({ done: 0, now: 4 })), [null, null]);
    });

    it('predictive drops only the requests whose own deadline the stage would break', () => {
      const out = decideExits('predictive', [job({ deadlineMs: 6 }), job({ deadlineMs: 50 })], ctx({ done: 0, now: 2 }));
      assert.deepEqual(out, ['latency', null]);
    });
  });

  describe('with a queue', () => {
    it('predictive gives up an optional stage that would make a queued request miss a deadline it could still meet', () => {
      const out = decideExits('predictive', [job({ deadlineMs: 100 })], ctx({ done: 1, now: 4, queueSlackMs: () => 5 }));
      assert.deepEqual(out, ['queue']);
    });

    it('predictive runs the stage for as many as the queue can absorb', () => {
      // Stage 3: 7 ms per row; a queue that absorbs 15 ms takes two of three rows.
      const out = decideExits('predictive', [job({ deadlineMs: 100 }), job({ deadlineMs: 100 }), job({ deadlineMs: 100 })], ctx({ done: 1, now: 4, queueSlackMs: () => 15 }));
      assert.deepEqual(out, [null, null, 'queue']);
      // The mandatory rows' own time is not the optional ones' cost: 2 rows (14 ms) minus the mandatory row's 7 ms fits a 7 ms slack exactly.
      assert.deepEqual(decideExits('predictive', [job({ minExit: 2 }), job({ deadlineMs: 100 })], ctx({ done: 1, now: 4, queueSlackMs: () => 7 })), [null, null]);
      assert.deepEqual(decideExits('predictive', [job({ minExit: 2 }), job({ deadlineMs: 100 })], ctx({ done: 1, now: 4, queueSlackMs: () => 6.9 })), [null, 'queue']);
    });

    it('predictive runs the stage when the queue can absorb it', () => {
      const out = decideExits('predictive', [job({ deadlineMs: 100 })], ctx({ done: 1, now: 4, queueSlackMs: () => 8 }));
      assert.deepEqual(out, [null]);
    });

    it('reactive ignores the queue', () => {
      const out = decideExits('reactive', [job({ deadlineMs: 100 })], ctx({ done: 1, now: 4, queueSlackMs: () => 0 }));
      assert.deepEqual(out, [null]);
    });
  });

  describe('under an accuracy bound', () => {
    it('runs every stage up to the first exit accurate enough, even past the latency plan', () => {
      for (const policy of ['predictive', 'reactive'] as const) {
        assert.deepEqual(decideExits(policy, [job({ minExit: 2, deadlineMs: 5, confidence: 0.99 })], ctx({ done: 1, now: 4 })), [null], policy);
      }
    });

    it('does not take a confident early exit below the exit the accuracy bound needs', () => {
      assert.deepEqual(decideExits('predictive', [job({ minExit: 1, confidence: 0.999 })], ctx({ done: 0, now: 1 })), [null]);
    });
  });

  describe('under an energy bound', () => {
    it('stops at the last exit within the energy budget', () => {
      for (const policy of ['predictive', 'reactive'] as const) {
        assert.deepEqual(decideExits(policy, [job({ maxExit: 1 })], ctx({ done: 1, now: 4 })), ['energy'], policy);
      }
    });

    it('says the exit was for confidence when the confidence was reached, even where the energy bound also stops it', () => {
      for (const policy of ['predictive', 'reactive'] as const) {
        assert.deepEqual(decideExits(policy, [job({ maxExit: 1, confidence: 1 })], ctx({ done: 1, now: 4 })), ['confidence'], policy);
      }
    });
  });

  describe('confidence', () => {
    it('stops at the first exit whose confidence reaches the threshold', () => {
      assert.deepEqual(decideExits('predictive', [job({ confidence: 0.96 })], ctx({ done: 0, now: 1 })), ['confidence']);
      assert.deepEqual(decideExits('predictive', [job({ confidence: 0.94 })], ctx({ done: 0, now: 1 })), [null]);
      assert.deepEqual(decideExits('reactive', [job({ confidence: 0.95 })], ctx({ done: 0, now: 1 })), ['confidence'], 'reaching the threshold is enough');
    });

    it('always stops after the last stage', () => {
      assert.deepEqual(decideExits('reactive', [job()], ctx({ done: 2, now: 1 })), ['last-exit']);
    });
  });
});
