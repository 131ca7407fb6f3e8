import assert from 'node:assert/strict';
import { scheduleTicks } from '../../src/control/scheduler.ts';

describe('scheduleTicks', () => {
  it('runs ticks on the cron schedule until stopped', async function () {
    this.timeout(10_000);
    let ticks = 0;
    const s = scheduleTicks({ schedule: '* * * * * *', tick: async () => void ticks++ });
    await new Promise((r) => setTimeout(r, 2_300));
    await s.stop();
    const seen = ticks;
    assert.ok(seen >= 1, `expected ticks, saw ${seen}`);
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal(ticks, seen, 'no tick after stop');
  });

  it('keeps going after a tick that throws', async function () {
    this.timeout(10_000);
    let calls = 0;
    const s = scheduleTicks({
      schedule: '* * * * * *',
      tick: async () => {
        calls++;
        throw new Error('boom');
      },
    });
    await new Promise((r) => setTimeout(r, 2_300));
    await s.stop();
    assert.ok(calls >= 2, `expected repeated calls, saw ${calls}`);
  });

  it('rejects a bad expression naming the config key', () => {
    assert.throws(() => scheduleTicks({ schedule: 'every 30s', tick: async () => undefined }), /controller\.schedule/);
    assert.throws(() => scheduleTicks({ schedule: '*/30 * * * * *', budgetBoundaries: ['0 8 * *'], tick: async () => undefined }), /budget\.schedule\[0\]\.cron/);
  });
});
