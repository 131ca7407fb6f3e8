import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ServiceProfiles } from '../../catalog/profiles.ts';
import { loadConfigFile } from '../../config/load.ts';
import { MAX_SLOTS } from '../../config/fields.ts';
import { MAX_BATCH_ROWS, MAX_REQUEST_ROWS, nodeSection, type NodeConfig } from '../../config/sections/node.ts';
import { RealClock } from '../../core/clock.ts';
import { MixscaleError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { Rng } from '../../core/rng.ts';
import { EmulatedNode } from '../../node/emulated/node.ts';
import { EdgeNode } from '../../node/edge/node.ts';
import { EXIT_POLICIES, type ExitPolicyName } from '../../node/edge/exit-policy.ts';
import { MultiExitModel } from '../../node/edge/model.ts';
import { createNodeApp, listen, type InferenceNode } from '../../node/http.ts';
import { decimal, globalOptions, hostOption, loggerFor, nonNegativeIntegerOption, positiveIntegerOption, stopSignal } from '../context.ts';

/** The model the edge node serves by default: the staged CNN shipped in the repo. */
const DEFAULT_EDGE_MODEL = fileURLToPath(new URL('../../../models/digits-cnn', import.meta.url));

function nodeConfig(cmd: Command): NodeConfig {
  const path = globalOptions(cmd).config;
  return path === undefined ? nodeSection.parse({}) : (loadConfigFile(path).config.node ?? nodeSection.parse({}));
}

function port(v: string): number {
  const n = decimal(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MixscaleError('MIXSCALE_USAGE', `--port: "${v}" is not a port (0..65535; 0 lets the OS choose)`);
  return n;
}

function fraction(flag: string) {
  return (v: string): number => {
    const n = decimal(v);
    if (!(n > 0 && n <= 1)) throw new MixscaleError('MIXSCALE_USAGE', `${flag}: "${v}" must be a number in (0, 1]`);
    return n;
  };
}


/**
 * Serves a node until SIGTERM/SIGINT, then finishes in-flight requests and returns (exit 0).
 * The first stdout line is `{"listening":"http://HOST:PORT"}`: the local cloud provider
 * launches nodes with port 0 and reads the chosen port from it.
 */
async function serve(node: InferenceNode, host: string, p: number, cfg: NodeConfig, logger: Logger, onClose: () => Promise<void>): Promise<void> {
  const clock = new RealClock();
  const app = createNodeApp(node, { clock, logger, bodyLimit: cfg.bodyLimit });
  let running;
  try {
    running = await listen(app, host, p);
  } catch (e) {
    // The node's own timers (the edge node's idle probes) would keep a node that cannot listen alive.
    await onClose();
    throw new MixscaleError('MIXSCALE_USAGE', `cannot listen on ${host}:${p}: ${(e as Error).message}`);
  }
  process.stdout.write(`${JSON.stringify({ listening: running.url })}\n`);
  logger.info({ url: running.url, model: node.modelName }, 'node listening');
  const signal = await stopSignal();
  logger.info({ signal }, 'draining: finishing in-flight requests');
  if (!(await running.close(cfg.shutdownTimeout))) logger.warn({ shutdownTimeout: cfg.shutdownTimeout }, 'requests still in flight at node.shutdownTimeout; cut them');
  await onClose();
  logger.info('node stopped');
}

export function registerNode(program: Command): void {
  const node = program
    .command('node')
    .description('run a serving node: edge (multi-exit ONNX) or emulated (measured profiles)')
    .addHelpText(
      'after',
      `
Examples:
  mixscale node edge --port 8001
  mixscale node edge --model models/digits-cnn --policy reactive --port 0
  mixscale node emulated --type g4dn.xlarge --model rm2 --slots 4 --port 0

On start a node prints one JSON line on stdout: {"listening":"http://127.0.0.1:PORT"}.`,
    );

  node
    .command('edge')
    .description('serve a staged multi-exit ONNX model over OIP v2, choosing the exit per request')
    .option('--model <dir>', 'model folder: manifest.json + one ONNX file per stage (default: the shipped models/digits-cnn)')
    .option('--host <host>', 'address to listen on (default: node.host, 127.0.0.1)', hostOption)
    .option('--port <port>', 'port (0: the OS chooses)', port, 0)
    .addOption(new Option('--policy <name>', 'exit control (default: node.edge.policy, predictive)').choices([...EXIT_POLICIES]))
    .option('--percentile <q>', 'stage-time percentile the predictive policy plans with (default: node.edge.percentile, 0.99)', fraction('--percentile'))
    .option('--confidence <p>', 'confidence threshold for an early exit (default: node.edge.confidence, 0.95)', fraction('--confidence'))
    .option('--max-batch <rows>', `most rows per stage run across requests (default: node.edge.maxBatch, 8; at most ${MAX_BATCH_ROWS})`, positiveIntegerOption('--max-batch', MAX_BATCH_ROWS))
    .option('--max-rows <rows>', `most rows one request may carry (default: node.edge.maxRows, 64; at most ${MAX_REQUEST_ROWS})`, positiveIntegerOption('--max-rows', MAX_REQUEST_ROWS))
    .option('--warmup-runs <n>', 'warm-up runs per stage (default: node.edge.warmupRuns, 30; at most 10000)', positiveIntegerOption('--warmup-runs', 10_000))
    .action(async (opts: { model?: string; host?: string; port: number; policy?: ExitPolicyName; percentile?: number; confidence?: number; maxBatch?: number; maxRows?: number; warmupRuns?: number }, cmd: Command) => {
      const cfg = nodeConfig(cmd);
      const logger = loggerFor(cmd);
      const model = await MultiExitModel.load(opts.model === undefined ? DEFAULT_EDGE_MODEL : resolve(opts.model), { threads: cfg.edge.threads });
      const edge = await EdgeNode.start(
        model,
        new RealClock(),
        {
          policy: opts.policy ?? cfg.edge.policy,
          percentile: opts.percentile ?? cfg.edge.percentile,
          confidenceThreshold: opts.confidence ?? cfg.edge.confidence,
          maxBatchRows: opts.maxBatch ?? cfg.edge.maxBatch,
          maxRows: opts.maxRows ?? cfg.edge.maxRows,
          warmupRuns: opts.warmupRuns ?? cfg.edge.warmupRuns,
        },
        logger,
      );
      await serve(edge, opts.host ?? cfg.host, opts.port, cfg, logger, () => edge.close());
    });

  node
    .command('emulated')
    .description('an OIP v2 server whose service times are drawn from the measured profile of (type, model, size)')
    .requiredOption('--type <type>', 'instance type to emulate, e.g. g4dn.xlarge')
    .requiredOption('--model <model>', 'profiled model, e.g. rm2')
    .option('--host <host>', 'address to listen on (default: node.host, 127.0.0.1)', hostOption)
    .option('--port <port>', 'port (0: the OS chooses)', port, 0)
    .option('--slots <n>', `requests served at once (default: node.emulated.slots, 1; at most ${MAX_SLOTS})`, positiveIntegerOption('--slots', MAX_SLOTS))
    .option('--seed <n>', 'seed of the service-time draws (default: node.emulated.seed, else one per process)', nonNegativeIntegerOption('--seed'))
    .option('--profiles <csv>', 'a service-time profile CSV instead of the bundled Kairos profiles')
    .action(async (opts: { type: string; model: string; host?: string; port: number; slots?: number; seed?: number; profiles?: string }, cmd: Command) => {
      const cfg = nodeConfig(cmd);
      const logger = loggerFor(cmd);
      const profiles = opts.profiles !== undefined ? ServiceProfiles.load(resolve(opts.profiles)) : ServiceProfiles.load();
      const table = profiles.table(opts.type, opts.model);
      const emulated = new EmulatedNode(table, new RealClock(), new Rng(opts.seed ?? cfg.emulated.seed ?? process.pid), { slots: opts.slots ?? cfg.emulated.slots, timerSlackMs: 2 });
      await serve(emulated, opts.host ?? cfg.host, opts.port, cfg, logger, async () => {});
    });
}
