import assert from 'node:assert/strict';
import { scheduleTicks } from '../../src/control/scheduler.ts';

describe('scheduleTicks', () => {
  it('runs ticks on the cron schedule, keeps going after one throws, and stops when told', async function () {
    this.timeout(10_000);
    let calls = 0;
    const s = scheduleTicks({
      schedule: '* * * * * *',
      tick: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
    });
    // Wait for a tick after the one that threw (a per-second cron: about 2 s), bounded.
    for (let waited = 0; calls < 2 && waited < 8_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await s.stop();
    const seen = calls;
    assert.ok(seen >= 2, `expected a tick after the one that threw, saw ${seen} calls`);
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal(calls, seen, 'no tick after stop');
  });

  it('rejects a bad expression naming the config key', () => {
    assert.throws(() => scheduleTicks({ schedule: 'every 30s', tick: async () => undefined }), /controller\.schedule/);
    assert.throws(() => scheduleTicks({ schedule: '*/30 * * * * *', budgetBoundaries: ['0 8 * *'], tick: async () => undefined }), /budget\.schedule\[0\]\.cron/);
  });
});
