import type { Command } from 'commander';
import { notYetAvailable } from '../context.ts';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('one-shot what-if: budget + load + SLO → best mix and predicted percentiles')
    .allowUnknownOption()
    .action(() => notYetAvailable('mixscale plan'));
}
