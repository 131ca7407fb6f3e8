import type { Command } from 'commander';
import { notYetAvailable } from '../context.ts';

export function registerLoad(program: Command): void {
  program
    .command('load')
    .description('replay a trace over HTTP as open-loop load and report latency')
    .allowUnknownOption()
    .action(() => notYetAvailable('mixscale load'));
}
