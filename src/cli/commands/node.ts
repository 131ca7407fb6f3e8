import type { Command } from 'commander';
import { notYetAvailable } from '../context.ts';

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run a serving node: edge (multi-exit ONNX) or emulated (measured profiles)')
    .allowUnknownOption()
    .action(() => notYetAvailable('mixscale node'));
}
