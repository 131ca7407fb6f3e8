import cron, { type ScheduledTask } from 'node-cron';
import { ConfigError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';

export interface TickSchedule {
  /** node-cron expression (six fields: seconds first) for regular ticks. */
  readonly schedule: string;
  /** Budget-schedule boundaries: an extra tick at each, so a new budget applies at once. */
  readonly budgetBoundaries?: readonly string[];
  readonly tick: () => Promise<unknown>;
  readonly logger?: Logger;
}

export interface RunningSchedule {
  stop(): Promise<void>;
}

/**
 * Runs control ticks on wall-clock cron schedules (production only; the simulator drives
 * ticks from its own clock). The loop itself refuses to overlap ticks; node-cron's noOverlap
 * keeps a slow tick from queueing more behind it.
 */
export function scheduleTicks(s: TickSchedule): RunningSchedule {
  const log = s.logger ?? silentLogger;
  const exprs = [{ expr: s.schedule, where: 'controller.schedule' }, ...(s.budgetBoundaries ?? []).map((expr, i) => ({ expr, where: `budget.schedule[${i}].cron` }))];
  for (const { expr, where } of exprs) {
    if (!cron.validate(expr)) throw new ConfigError(`${where}: "${expr}" is not a node-cron expression (e.g. "*/30 * * * * *")`);
  }
  const tasks: ScheduledTask[] = exprs.map(({ expr, where }) =>
    cron.schedule(
      expr,
      async () => {
        try {
          await s.tick();
        } catch (e) {
          // The loop records its own failures; this only catches a loop that threw anyway.
          log.error({ err: (e as Error).message, schedule: where }, 'scheduled tick threw');
        }
      },
      { name: `mixscale:${where}`, noOverlap: true, suppressMissedWarning: true },
    ),
  );
  return {
    async stop() {
      for (const t of tasks) await t.destroy();
    },
  };
}
