import type { Command } from 'commander';
import { notYetAvailable } from '../context.ts';

export function registerRouter(program: Command): void {
  program
    .command('router')
    .description('run the HTTP request router (OIP v2 inference, admin API, /metrics)')
    .allowUnknownOption()
    .action(() => notYetAvailable('mixscale router'));
}
