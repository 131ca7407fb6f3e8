import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { isMixscaleError } from '../core/errors.ts';
import { LOG_LEVELS } from '../core/log.ts';
import { registerCatalog } from './commands/catalog.ts';
import { registerController } from './commands/controller.ts';
import { registerLoad } from './commands/load.ts';
import { registerNode } from './commands/node.ts';
import { registerPlan } from './commands/plan.ts';
import { registerRouter } from './commands/router.ts';
import { registerSim } from './commands/sim.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('mixscale')
    .description('Budget-aware heterogeneous autoscaler and router for ML inference')
    .version(pkg.version, '-V, --version')
    .option('-c, --config <file>', 'YAML config file (see docs/config.md)')
    .addOption(new Option('--log-level <level>', 'structured log level (logs go to stderr)').choices([...LOG_LEVELS]).default('info'))
    .option('--json [file]', 'machine-readable output: JSON to stdout, or to FILE')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  mixscale sim                                   # the bundled scenario, policy against policy
  mixscale sim --config sim/scenarios/default.yaml --compare fast-frugal,homogeneous-fast --html report.html
  mixscale plan --config sim/scenarios/default.yaml --rps 80
  mixscale catalog --json
  mixscale router --config examples/local.yaml
  mixscale controller --config examples/local.yaml --dry-run --once`,
    );
  registerSim(program);
  registerPlan(program);
  registerController(program);
  registerRouter(program);
  registerNode(program);
  registerLoad(program);
  registerCatalog(program);
  return program;
}

/**
 * `mixscale --json catalog`: --json's optional FILE would take the command's name, leaving no
 * command to run. A --json right before the only command name means JSON to stdout: it is moved
 * after the command's arguments (before a `--`), where it takes no value.
 */
export function jsonBeforeCommand(argv: readonly string[], commands: readonly string[]): string[] {
  const args = argv.slice(2);
  const i = args.indexOf('--json');
  if (i < 0 || !commands.includes(args[i + 1] ?? '') || args.slice(i + 2).some((a) => commands.includes(a))) return [...argv];
  const rest = [...args.slice(0, i), ...args.slice(i + 1)];
  const end = rest.indexOf('--');
  const at = end < 0 ? rest.length : end;
  return [...argv.slice(0, 2), ...rest.slice(0, at), '--json', ...rest.slice(at)];
}

/** Runs the CLI; user mistakes print one clear line (no stack) and exit 2, failures exit 1. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(jsonBeforeCommand(argv, program.commands.map((c) => c.name())));
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
    }
    if (isMixscaleError(e)) {
      process.stderr.write(`mixscale: ${e.message}\n`);
      if (e.code === 'MIXSCALE_NOT_AVAILABLE') return 2;
      if (e.code === 'MIXSCALE_INTERRUPTED') return 130;
      return e.userFault ? 2 : 1;
    }
    process.stderr.write(`mixscale: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

const isEntry = process.argv[1] !== undefined && /(?:^|[\\/])(?:main\.ts|mixscale(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  // `mixscale ... | head` closes stdout early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const code = await main(process.argv);
  process.exitCode = code;
}
