import cron from 'node-cron';
import { ConfigError } from '../core/errors.ts';
import type { Ms } from '../core/types.ts';

export interface BudgetScheduleEntry {
  readonly cron: string;
  readonly usdPerHour: number;
}

interface Matcher {
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly dom: ReadonlySet<number>;
  readonly lastDom: boolean;
  readonly months: ReadonlySet<number>;
  readonly dow: ReadonlySet<number>;
}

const DAY_MS = 86_400_000;
/** How far back a boundary is looked for; a schedule that never fired in a year is not in force. */
const LOOKBACK_DAYS = 366;

function numbers(values: readonly (number | string)[], field: string, where: string): number[] {
  return values.map((v) => {
    if (typeof v !== 'number') throw new ConfigError(`${where}: "${v}" in the ${field} field is not supported in budget schedules; use plain numbers, ranges and steps`);
    return v;
  });
}

function compile(expr: string, where: string): Matcher {
  let f: ReturnType<typeof cron.parse>;
  try {
    f = cron.parse(expr);
  } catch (e) {
    throw new ConfigError(`${where}: "${expr}" is not a cron expression: ${(e as Error).message}`);
  }
  const lastDom = f.dayOfMonth.length === 1 && f.dayOfMonth[0] === 'L';
  const dom = lastDom ? [] : numbers(f.dayOfMonth, 'day-of-month', where);
  const dow = numbers(f.dayOfWeek, 'day-of-week', where).map((d) => d % 7);
  const desc = (a: number[]) => [...new Set(a)].sort((x, y) => y - x);
  return {
    seconds: desc(f.second),
    minutes: desc(f.minute),
    hours: desc(f.hour),
    dom: new Set(dom),
    lastDom,
    months: new Set(f.month),
    dow: new Set(dow),
  };
}

interface Parts {
  readonly year: number;
  readonly month: number; // 1..12
  readonly day: number;
  readonly weekday: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/**
 * Budgets that follow the clock: from each cron boundary on, that entry's budget applies,
 * until another entry's boundary. Before any boundary (or with no entries) the base budget
 * applies. Evaluated on the injected time, so the simulator gets the same answers.
 */
export class BudgetSchedule {
  private readonly matchers: { readonly m: Matcher; readonly usd: number }[];

  constructor(
    readonly baseUsdPerHour: number,
    readonly entries: readonly BudgetScheduleEntry[],
    private readonly opts: { readonly utc?: boolean } = {},
  ) {
    this.matchers = entries.map((e, i) => ({ m: compile(e.cron, `budget.schedule[${i}].cron`), usd: e.usdPerHour }));
  }

  /** The budget in force at `nowMs` ($/h). */
  at(nowMs: Ms): number {
    let best = -Infinity;
    let usd = this.baseUsdPerHour;
    this.matchers.forEach(({ m, usd: u }) => {
      const t = this.lastBoundary(m, nowMs);
      // A later entry wins a tie: the list reads top to bottom.
      if (t !== undefined && t >= best) {
        best = t;
        usd = u;
      }
    });
    return usd;
  }

  /**
   * The first instant after `afterMs` at which some entry fires (the budget may change there),
   * within a year; undefined when none does. Lets a meter integrate the budget piecewise.
   */
  nextBoundary(afterMs: Ms): Ms | undefined {
    let first: Ms | undefined;
    for (const { m } of this.matchers) {
      const t = this.firstBoundary(m, afterMs);
      if (t !== undefined && (first === undefined || t < first)) first = t;
    }
    return first;
  }

  private parts(t: Ms): Parts {
    const d = new Date(t);
    return this.opts.utc
      ? { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() }
      : { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), weekday: d.getDay(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds() };
  }

  private dayMatches(m: Matcher, p: Parts): boolean {
    if (!m.months.has(p.month)) return false;
    const daysInMonth = new Date(Date.UTC(p.year, p.month, 0)).getUTCDate();
    const domOk = m.lastDom ? p.day === daysInMonth : m.dom.has(p.day);
    // Both day fields must match, as node-cron (which fires the boundary ticks) has it; not
    // Vixie cron's either-or when both are restricted.
    return domOk && m.dow.has(p.weekday);
  }

  /** Latest time ≤ nowMs (whole seconds) the expression fires at, within the lookback. */
  private lastBoundary(m: Matcher, nowMs: Ms): Ms | undefined {
    const now = this.parts(nowMs);
    const nowSecOfDay = now.hour * 3600 + now.minute * 60 + now.second;
    const startOfToday = Math.floor(nowMs / 1000) * 1000 - nowSecOfDay * 1000;
    for (let back = 0; back <= LOOKBACK_DAYS; back++) {
      // Noon of the day `back` days ago names the day without DST edge trouble.
      const noon = startOfToday - back * DAY_MS + 12 * 3600_000;
      const p = this.parts(noon);
      if (!this.dayMatches(m, p)) continue;
      const limit = back === 0 ? nowSecOfDay : Infinity;
      const dayStart = noon - 12 * 3600_000;
      for (const h of m.hours) {
        if (h * 3600 > limit) continue;
        for (const mi of m.minutes) {
          if (h * 3600 + mi * 60 > limit) continue;
          for (const s of m.seconds) {
            const sec = h * 3600 + mi * 60 + s;
            if (sec <= limit) return dayStart + sec * 1000;
          }
        }
      }
    }
    return undefined;
  }

  /** Earliest time > afterMs (whole seconds) the expression fires at, within the lookback. */
  private firstBoundary(m: Matcher, afterMs: Ms): Ms | undefined {
    const now = this.parts(afterMs);
    const nowSecOfDay = now.hour * 3600 + now.minute * 60 + now.second;
    const startOfToday = Math.floor(afterMs / 1000) * 1000 - nowSecOfDay * 1000;
    for (let ahead = 0; ahead <= LOOKBACK_DAYS; ahead++) {
      const noon = startOfToday + ahead * DAY_MS + 12 * 3600_000;
      const p = this.parts(noon);
      if (!this.dayMatches(m, p)) continue;
      const dayStart = noon - 12 * 3600_000;
      // The arrays are in descending order; the first match going up is the earliest.
      for (let hi = m.hours.length - 1; hi >= 0; hi--) {
        const h = m.hours[hi]!;
        for (let mi = m.minutes.length - 1; mi >= 0; mi--) {
          for (let si = m.seconds.length - 1; si >= 0; si--) {
            const t = dayStart + (h * 3600 + m.minutes[mi]! * 60 + m.seconds[si]!) * 1000;
            if (t > afterMs) return t;
          }
        }
      }
    }
    return undefined;
  }
}
