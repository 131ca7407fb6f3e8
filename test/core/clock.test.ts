import assert from 'node:assert/strict';
import { MAX_TIMER_MS, RealClock, SimClock, timerMs } from '../../src/core/clock.ts';

describe('SimClock', () => {
  it('fires timers in (time, order set) order and only when time reaches them', () => {
    const c = new SimClock(0);
    const fired: string[] = [];
    c.setTimeout(() => fired.push('b@10'), 10);
    c.setTimeout(() => fired.push('a@5'), 5);
    c.setTimeout(() => fired.push('c@10'), 10);
    c.advanceTo(7);
    assert.deepEqual(fired, ['a@5']);
    assert.equal(c.now(), 7);
    c.advanceTo(10);
    assert.deepEqual(fired, ['a@5', 'b@10', 'c@10']);
  });

  it('does not fire cleared timers and reports the next due time', () => {
    const c = new SimClock(100);
    const h = c.setTimeout(() => assert.fail('cleared timer fired'), 5);
    c.setTimeout(() => undefined, 50);
    c.clearTimeout(h);
    assert.equal(c.nextTimerAt(), 150);
    c.advanceTo(200);
  });

  it('lets async work started by a timer settle at that simulated instant', async () => {
    const c = new SimClock(0);
    let doneAt = -1;
    c.setTimeout(() => {
      void (async () => {
        await Promise.resolve();
        await Promise.resolve();
        doneAt = c.now();
      })();
    }, 30);
    c.setTimeout(() => undefined, 60);
    await c.advanceToSettled(100);
    assert.equal(doneAt, 30);
  });
});

describe('RealClock', () => {
  it('waits out a delay past 2^31 ms instead of firing after 1 ms, as a bare Node timer would', async () => {
    assert.equal(timerMs(30 * 24 * 3_600_000), MAX_TIMER_MS);
    assert.equal(timerMs(-5), 0);
    const clock = new RealClock();
    let fired = false;
    const t = clock.setTimeout(() => (fired = true), 30 * 24 * 3_600_000);
    await new Promise((r) => setTimeout(r, 50));
    clock.clearTimeout(t);
    assert.equal(fired, false);
  });
});
