import type { Command } from 'commander';
import { notYetAvailable } from '../context.ts';

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run the offline budget simulation (default: the bundled scenario)')
    .allowUnknownOption()
    .action(() => notYetAvailable('mixscale sim'));
}
