import type { Command } from 'commander';
import { notYetAvailable } from '../context.ts';

export function registerController(program: Command): void {
  program
    .command('controller')
    .description('run the control loop: observe → forecast → plan → reconcile (EC2 or local)')
    .allowUnknownOption()
    .action(() => notYetAvailable('mixscale controller'));
}
