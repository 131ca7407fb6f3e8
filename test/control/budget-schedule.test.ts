import assert from 'node:assert/strict';
import cron from 'node-cron';
import { BudgetSchedule } from '../../src/control/budget-schedule.ts';

const at = (iso: string) => Date.parse(iso);

describe('BudgetSchedule', () => {
  const dayNight = new BudgetSchedule(5, [
    { cron: '0 0 8 * * *', usdPerHour: 10 },
    { cron: '0 0 20 * * *', usdPerHour: 3 },
  ], { utc: true });

  it('applies the day budget from 08:00 and the night budget from 20:00', () => {
    assert.equal(dayNight.at(at('2026-03-02T07:59:59Z')), 3);
    assert.equal(dayNight.at(at('2026-03-02T08:00:00Z')), 10);
    assert.equal(dayNight.at(at('2026-03-02T19:59:59.999Z')), 10);
    assert.equal(dayNight.at(at('2026-03-02T20:00:00Z')), 3);
  });

  it('finds the next boundary of any entry, strictly after the given instant', () => {
    assert.equal(dayNight.nextBoundary(at('2026-03-02T07:59:59Z')), at('2026-03-02T08:00:00Z'));
    assert.equal(dayNight.nextBoundary(at('2026-03-02T08:00:00Z')), at('2026-03-02T20:00:00Z'));
    assert.equal(dayNight.nextBoundary(at('2026-03-02T21:30:00Z')), at('2026-03-03T08:00:00Z'));
    const weekly = new BudgetSchedule(1, [{ cron: '30 15 * * 6', usdPerHour: 2 }], { utc: true });
    assert.equal(weekly.nextBoundary(at('2026-03-04T12:00:00Z')), at('2026-03-07T15:30:00Z'));
    const lastDay = new BudgetSchedule(1, [{ cron: '0 0 0 L * *', usdPerHour: 9 }], { utc: true });
    assert.equal(lastDay.nextBoundary(at('2026-02-10T00:00:00Z')), at('2026-02-28T00:00:00Z'));
    assert.equal(new BudgetSchedule(5, []).nextBoundary(0), undefined);
  });

  it('uses the base budget with no entries', () => {
    assert.equal(new BudgetSchedule(5, []).at(at('2026-03-02T12:00:00Z')), 5);
  });

  it('counts weekdays: more on weekdays, less at weekends', () => {
    const s = new BudgetSchedule(1, [
      { cron: '0 0 * * 1', usdPerHour: 8 },
      { cron: '0 0 * * 6', usdPerHour: 2 },
    ], { utc: true });
    assert.equal(s.at(at('2026-03-04T12:00:00Z')), 8); // Wednesday
    assert.equal(s.at(at('2026-03-07T12:00:00Z')), 2); // Saturday
    assert.equal(s.at(at('2026-03-08T23:59:00Z')), 2); // Sunday
    assert.equal(s.at(at('2026-03-09T00:00:00Z')), 8); // Monday
  });

  it('follows a last-day-of-month boundary', () => {
    const s = new BudgetSchedule(1, [{ cron: '0 0 0 L * *', usdPerHour: 9 }], { utc: true });
    assert.equal(s.at(at('2026-02-27T12:00:00Z')), 9); // since Jan 31
    assert.equal(s.at(at('2026-02-28T00:00:00Z')), 9);
    const fresh = new BudgetSchedule(1, [{ cron: '0 0 0 L 3 *', usdPerHour: 9 }], { utc: true });
    assert.equal(fresh.at(at('2026-03-30T12:00:00Z')), 9, 'last March boundary was 2025-03-31');
  });

  it('keeps the base budget when no boundary fell within the last year', () => {
    const leap = new BudgetSchedule(1, [{ cron: '0 0 0 29 2 *', usdPerHour: 9 }], { utc: true });
    assert.equal(leap.at(at('2027-01-01T00:00:00Z')), 1);
    assert.equal(leap.at(at('2028-02-29T00:00:00Z')), 9);
  });

  it('matches a day as node-cron does, which fires the boundary ticks: day of month and day of week both', async () => {
    const entries = [{ cron: '0 0 8 1 * 1', usdPerHour: 4 }, { cron: '0 0 20 * * *', usdPerHour: 1 }];
    const s = new BudgetSchedule(1, entries, { utc: true });
    assert.equal(s.at(at('2025-12-29T10:00:00Z')), 1, 'a Monday, but not the 1st');
    assert.equal(s.at(at('2025-12-01T10:00:00Z')), 4, 'Monday the 1st');
    assert.equal(s.nextBoundary(at('2025-12-01T08:00:00Z')), at('2025-12-01T20:00:00Z'));
    // Day by day through a year, for expressions restricting both day fields: a boundary is
    // where node-cron's own matcher fires, and nowhere else.
    for (const expr of ['0 0 8 1 * 1', '0 30 9 13 * 5', '0 0 6 1-7 * 0']) {
      const one = new BudgetSchedule(0, [{ cron: expr, usdPerHour: 1 }], { utc: true });
      const task = cron.createTask(expr, () => undefined, { timezone: 'UTC' });
      try {
        const [h, mi] = [Number(expr.split(' ')[2]), Number(expr.split(' ')[1])];
        for (let d = at('2026-01-01T00:00:00Z'); d < at('2027-01-01T00:00:00Z'); d += 86_400_000) {
          const t = d + (h * 60 + mi) * 60_000;
          assert.equal(one.nextBoundary(t - 1) === t, task.match(new Date(t)), `${expr} on ${new Date(t).toISOString()}`);
        }
      } finally {
        await task.destroy();
      }
    }
  });

  it('names the entry of a bad expression', () => {
    assert.throws(() => new BudgetSchedule(1, [{ cron: '0 8 * *', usdPerHour: 2 }, { cron: 'nope', usdPerHour: 1 }]), /budget\.schedule\[0\]\.cron/);
  });
});
