import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { isMixscaleError } from '../core/errors.ts';
import { LOG_LEVELS } from '../core/log.ts';

/**
 * Each command's module, loaded only when that command runs: the AWS SDK, vega, express and
 * onnxruntime together take seconds to load, and `mixscale plan` needs none of them. The order
 * is the order of the top-level help.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<(program: Command) => void>]> = [
  ['sim', async () => (await import('./commands/sim.ts')).registerSim],
  ['plan', async () => (await import('./commands/plan.ts')).registerPlan],
  ['controller', async () => (await import('./commands/controller.ts')).registerController],
  ['router', async () => (await import('./commands/router.ts')).registerRouter],
  ['node', async () => (await import('./commands/node.ts')).registerNode],
  ['load', async () => (await import('./commands/load.ts')).registerLoad],
  ['catalog', async () => (await import('./commands/catalog.ts')).registerCatalog],
];
const COMMAND_NAMES = COMMANDS.map(([name]) => name);

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * The CLI with the commands named in `only` (every command when it is undefined: the top-level
 * help lists them all, and commander suggests the closest one for a typo).
 */
export async function buildProgram(only?: string): Promise<Command> {
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
  for (const [name, load] of COMMANDS) if (only === undefined || only === name) (await load())(program);
  return program;
}

/**
 * The command an argument list runs: the first argument that names one and is not the value of
 * a global option (`--config FILE`, `--log-level LEVEL`; `--json [FILE]` takes a following
 * argument unless jsonBeforeCommand reads it as the command). Undefined when none does, or when
 * the top-level help is asked for first (`mixscale --help plan` lists every command).
 */
export function commandOf(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || a === '-h' || a === '--help') return undefined;
    if (COMMAND_NAMES.includes(a)) return a;
    if (a === '-c' || a === '--config' || a === '--log-level') i++;
    else if (a === '--json') {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('-') && !jsonBeforeTheCommand(args, i, COMMAND_NAMES)) i++;
    } else if (!a.startsWith('-')) return undefined;
  }
  return undefined;
}

/**
 * `mixscale --json catalog`: --json's optional FILE would take the command's name, leaving no
 * command to run. A --json right before the only command name means JSON to stdout: it is moved
 * after the command's arguments (before a `--`), where it takes no value.
 */
export function jsonBeforeCommand(argv: readonly string[], commands: readonly string[]): string[] {
  const args = argv.slice(2);
  const i = args.indexOf('--json');
  if (i < 0 || !jsonBeforeTheCommand(args, i, commands)) return [...argv];
  const rest = [...args.slice(0, i), ...args.slice(i + 1)];
  const end = rest.indexOf('--');
  const at = end < 0 ? rest.length : end;
  return [...argv.slice(0, 2), ...rest.slice(0, at), '--json', ...rest.slice(at)];
}

/** Whether the `--json` at `args[i]` comes right before the only command name: JSON to stdout, not a file named after the command. */
function jsonBeforeTheCommand(args: readonly string[], i: number, commands: readonly string[]): boolean {
  return commands.includes(args[i + 1] ?? '') && !args.slice(i + 2).some((a) => commands.includes(a));
}

/** Runs the CLI; user mistakes print one clear line (no stack) and exit 2, failures exit 1. */
export async function main(argv: readonly string[]): Promise<number> {
  // Commander keeps the last of a repeated option: `--json a.json ... --json b.json` would drop
  // one without a word, and which one depends on where each stands.
  const end = argv.indexOf('--', 2);
  const jsons = argv.slice(2, end < 0 ? undefined : end).filter((a) => a === '--json' || a.startsWith('--json='));
  if (jsons.length > 1) {
    process.stderr.write(`mixscale: --json is given ${jsons.length} times (${jsons.join(', ')}): give it once, alone for JSON on stdout or with a FILE\n`);
    return 2;
  }
  const program = await buildProgram(commandOf(argv));
  try {
    await program.parseAsync(jsonBeforeCommand(argv, COMMAND_NAMES));
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : 2;
    }
    if (isMixscaleError(e)) {
      process.stderr.write(`mixscale: ${e.message}\n`);
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
