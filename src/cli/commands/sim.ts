import { availableParallelism } from 'node:os';
import { basename, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { isMixscaleError, MixscaleError } from '../../core/errors.ts';
import type { LogLevel } from '../../core/log.ts';
import { formatDuration } from '../../core/units.ts';
import { loadConfigFile } from '../../config/load.ts';
import { createConfiguredRoutingPolicy } from '../../../policies/routing/index.ts';
import { createComparedScalingPolicy } from '../../../policies/scaling/index.ts';
import { runInParallel } from '../../../sim/parallel.ts';
import { configuredArrivals, runSimulation, simSettings, type ArrivalSource } from '../../../sim/runner.ts';
import type { SimRun } from '../../../sim/result.ts';
import { buildReport, reportJson } from '../../../sim/report/json.ts';
import { renderSummary } from '../../../sim/report/summary.ts';
import { traceSpanMs } from '../../../sim/workload.ts';
import { checkJsonFile, checkOutputFile, durationArg, globalOptions, loggerFor, nameTraceSetting, positiveDurationArg, positiveInteger, positiveNumber, writeOutputFile, type TraceSettingNames } from '../context.ts';

/** The bundled scenario `mixscale sim` (and `npm start`) runs without --config. */
const DEFAULT_SCENARIO = fileURLToPath(new URL('../../../sim/scenarios/default.yaml', import.meta.url));

interface SimCliOptions {
  compare?: string;
  routing?: string;
  html?: string;
  quiet?: boolean;
  seed?: string;
  trace?: string;
  traceModel?: string;
  sizeColumn?: string;
  timeScale?: string;
  peakRps?: string;
  start?: string;
  duration?: string;
  skipBadRows?: boolean;
  jobs?: string;
}


/** The config's load with the command line's trace options applied on top. */
function arrivalsFrom(opts: SimCliOptions, fromConfig: () => ArrivalSource): ArrivalSource {
  const traceFlags = [opts.traceModel, opts.sizeColumn, opts.timeScale, opts.peakRps, opts.start, opts.duration].some((v) => v !== undefined) || opts.skipBadRows === true;
  let base: ArrivalSource;
  if (opts.trace !== undefined) base = { kind: 'trace', path: opts.trace };
  else {
    base = fromConfig();
    if (base.kind !== 'trace') {
      if (traceFlags) throw new MixscaleError('MIXSCALE_USAGE', 'trace options (--time-scale, --peak-rps, ...) need a trace: pass --trace FILE or set sim.trace in the config');
      return base;
    }
  }
  const timeScale = opts.timeScale === undefined ? undefined : positiveNumber('--time-scale', opts.timeScale);
  const peakRps = opts.peakRps === undefined ? undefined : positiveNumber('--peak-rps', opts.peakRps);
  const startMs = opts.start === undefined ? undefined : durationArg('--start', opts.start);
  const durationMs = opts.duration === undefined ? undefined : positiveDurationArg('--duration', opts.duration);
  return {
    ...base,
    ...(opts.traceModel !== undefined ? { model: opts.traceModel } : {}),
    ...(opts.sizeColumn !== undefined ? { sizeColumn: opts.sizeColumn } : {}),
    ...(timeScale !== undefined ? { timeScale } : {}),
    ...(peakRps !== undefined ? { peakRps } : {}),
    ...(startMs !== undefined ? { startMs } : {}),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(opts.skipBadRows === true ? { skipBadRows: true } : {}),
  };
}

/** Builds a policy named by `flag`; a user mistake (unknown name, options it cannot run with) names the flag. */
function checkPolicy(flag: string, build: () => unknown): void {
  try {
    build();
  } catch (e) {
    if (isMixscaleError(e) && e.userFault) throw new MixscaleError('MIXSCALE_USAGE', `${flag}: ${e.message}`, { ...e.details });
    throw e;
  }
}

/** The flags and config fields that cut the trace's window, e.g. `--start, FILE: sim.trace.duration`. */
function windowNames(opts: SimCliOptions, a: ArrivalSource, source: string): string | undefined {
  if (a.kind !== 'trace') return undefined;
  const set = (['start', 'duration'] as const).filter((k) => (k === 'start' ? a.startMs : a.durationMs) !== undefined);
  const flags = set.filter((k) => opts[k] !== undefined).map((k) => `--${k}`);
  const fields = set.filter((k) => opts[k] === undefined).map((k) => `sim.trace.${k}`);
  const names = [...flags, ...(fields.length > 0 ? [`${source}: ${fields.join(', ')}`] : [])];
  return names.length > 0 ? names.join(', ') : undefined;
}

function describeLoad(a: ArrivalSource): string {
  if (a.kind === 'poisson') return `constant ${a.rps} rps (Poisson) for ${formatDuration(a.durationMs)}`;
  const parts = [basename(a.path)];
  if (a.model !== undefined) parts.push(`model ${a.model}`);
  if (a.timeScale !== undefined && a.timeScale !== 1) parts.push(`${a.timeScale}× speed`);
  if (a.peakRps !== undefined) parts.push(`peak ${a.peakRps} rps`);
  if (a.startMs !== undefined) parts.push(`from ${formatDuration(a.startMs)}`);
  if (a.durationMs !== undefined) parts.push(`for ${formatDuration(a.durationMs)}`);
  return parts.join(', ');
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run the offline budget simulation (default: the bundled scenario, policies side by side)')
    .option('--compare <policies>', 'scaling policies to run side by side on the same arrivals, comma-separated')
    .option('--routing <policy>', 'routing policy (default: routing.policy from the config)')
    .option('--html <file>', 'write the HTML report here (default without --config: report.html)')
    .option('--quiet', 'no progress and no summary (errors still go to stderr)')
    .option('--seed <n>', 'random seed (same seed, same report)')
    .option('--trace <file>', 'replay this trace CSV instead of the config\'s load')
    .option('--trace-model <name>', 'for multi-model rate series: which model')
    .option('--size-column <name>', 'size column of a per-request trace')
    .option('--time-scale <x>', 'replay speed-up (24 = a day in an hour)')
    .option('--peak-rps <n>', 'rescale so the busiest minute averages this')
    .option('--start <duration>', 'start of the window to replay, in trace time (e.g. 20h)')
    .option('--duration <duration>', 'length of the window to replay, in trace time')
    .option('--skip-bad-rows', 'skip and count malformed trace rows instead of failing')
    .option('--jobs <n>', 'compared policies simulated at once on worker threads (default: one per core); 1 runs them in turn')
    .addHelpText(
      'after',
      `
Examples:
  mixscale sim                                    # bundled scenario → summary + report.html
  mixscale sim --config sim/scenarios/bursty-code.yaml --html bursty.html
  mixscale sim --compare homogeneous-fast,target-tracking --seed 7 --json runs.json
  mixscale sim --trace my-trace.csv --time-scale 24 --peak-rps 120 --start 18h --duration 6h`,
    )
    .action(async (opts: SimCliOptions, cmd: Command) => {
      const g = globalOptions(cmd);
      const usingDefault = g.config === undefined;
      // Output files are checked before the run, so a long run never ends in a write that fails.
      checkJsonFile(cmd);
      if (opts.html !== undefined) checkOutputFile('--html', opts.html);
      else if (usingDefault) checkOutputFile('--html', 'report.html');
      // One file for both would keep only the report written last.
      if (typeof g.json === 'string' && (opts.html !== undefined || usingDefault) && resolve(g.json) === resolve(opts.html ?? 'report.html')) {
        const html = opts.html !== undefined ? '--html' : 'the default --html (report.html)';
        throw new MixscaleError('MIXSCALE_USAGE', `--json, ${html}: both name ${g.json}; give each report its own file`);
      }
      const loaded = loadConfigFile(g.config ?? DEFAULT_SCENARIO);
      // Every simulated control tick logs its decision at info: thousands of lines per run.
      // The sim keeps them for --log-level debug/trace and shows warnings and errors otherwise.
      const cliLogger = loggerFor(cmd);
      const simLevel = (cliLogger.isLevelEnabled('debug') || !cliLogger.isLevelEnabled('warn') ? cliLogger.level : 'warn') as LogLevel;
      const logger = simLevel === cliLogger.level ? cliLogger : cliLogger.child({}, { level: simLevel });
      const settings = simSettings(loaded);
      const policies = opts.compare !== undefined ? opts.compare.split(',').map((p) => p.trim()).filter((p) => p !== '') : (settings.compare ?? [loaded.config.scaling.policy]);
      if (policies.length === 0) throw new MixscaleError('MIXSCALE_USAGE', '--compare: name at least one scaling policy');
      // Runs are told apart by policy (the report's panels select by it): a policy named twice would count twice.
      const twice = policies.find((p, i) => policies.indexOf(p) !== i);
      if (twice !== undefined) throw new MixscaleError('MIXSCALE_USAGE', `--compare: "${twice}" is named twice; name each scaling policy once`);
      // Every policy named on the command line is checked before any run starts (sim.compare and
      // routing.policy were checked at load), so a typo never throws away finished runs.
      const cfg = loaded.config;
      if (opts.compare !== undefined) for (const p of policies) checkPolicy('--compare', () => createComparedScalingPolicy(p, cfg.scaling.policy, cfg.scaling.options, { lateBinding: cfg.routing.lateBinding }));
      if (opts.routing !== undefined) checkPolicy('--routing', () => createConfiguredRoutingPolicy(opts.routing!, cfg.routing.policy, cfg.routing.options));
      const seed = opts.seed !== undefined ? positiveInteger('--seed', opts.seed, 0) : undefined;
      const arrivals = arrivalsFrom(opts, () => configuredArrivals(loaded));
      const jsonTarget = g.json;
      const jsonToStdout = jsonTarget === true;
      const quiet = opts.quiet === true;
      const htmlPath = opts.html ?? (usingDefault ? 'report.html' : undefined);

      // A progress bar for runs long enough to wonder about, only on a terminal.
      let bar: cliProgress.SingleBar | undefined;
      let spanMs = 0;
      const wallStart = performance.now();
      // A trace error about the window or the model names the flag or config field that set it.
      const traceNames: TraceSettingNames = {
        model: opts.trace !== undefined || opts.traceModel !== undefined ? '--trace-model' : `${loaded.source}: sim.trace.model`,
        start: opts.start !== undefined ? '--start' : opts.trace === undefined ? `${loaded.source}: sim.trace.start` : undefined,
        peakRps: opts.peakRps !== undefined ? '--peak-rps' : opts.trace === undefined ? `${loaded.source}: sim.trace.peakRps` : undefined,
        sizeColumn: opts.sizeColumn !== undefined ? '--size-column' : opts.trace === undefined ? `${loaded.source}: sim.trace.sizeColumn` : undefined,
        window: windowNames(opts, arrivals, loaded.source),
      };
      if (!quiet && process.stderr.isTTY) {
        try {
          spanMs = arrivals.kind === 'poisson' ? arrivals.durationMs : await traceSpanMs(arrivals);
        } catch (e) {
          throw nameTraceSetting(e, traceNames);
        }
      }
      let threads = Math.min(policies.length, availableParallelism());
      if (opts.jobs !== undefined) threads = positiveInteger('--jobs', opts.jobs);
      const done = new Array<number>(policies.length).fill(0);
      const progress = (i: number, t: number): void => {
        if (spanMs <= 0) return;
        done[i] = t;
        const policy = policies[i]!;
        if (bar === undefined && performance.now() - wallStart > 2000) {
          bar = new cliProgress.SingleBar({ stream: process.stderr, format: 'simulating {policy} |{bar}| {percentage}% ({value}/{total} simulated min)', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
          bar.start(Math.round((spanMs * policies.length) / 60_000), 0, { policy });
        }
        bar?.update(Math.round(done.reduce((a, b) => a + b, 0) / 60_000), { policy });
      };
      const jobs = policies.map((policy) => ({
        scalingPolicy: policy,
        ...(opts.routing !== undefined ? { routingPolicy: opts.routing } : {}),
        ...(seed !== undefined ? { seed } : {}),
        arrivals,
      }));
      let runs: SimRun[] | undefined;
      if (threads > 1 && jobs.length > 1) {
        try {
          runs = await runInParallel(loaded.source, jobs, { threads, logLevel: simLevel, onProgress: progress });
        } catch (e) {
          // A failed run is reported as is; a worker that could not start falls back to one thread.
          if (isMixscaleError(e)) throw nameTraceSetting(e, traceNames);
          cliLogger.warn({ err: (e as Error).message }, 'worker threads unavailable; simulating in turn');
        }
      }
      if (runs === undefined) {
        runs = [];
        try {
          for (const [i, job] of jobs.entries()) runs.push(await runSimulation(loaded, { ...job, logger, onProgress: (t) => progress(i, t) }));
        } catch (e) {
          throw nameTraceSetting(e, traceNames);
        }
      }
      bar?.stop();
      const name = basename(loaded.source, extname(loaded.source));
      const report = buildReport(loaded, runs, { name, trace: describeLoad(arrivals), seed: seed ?? settings.seed });
      // A write that fails still leaves the other outputs and the summary; the failure comes last.
      const wrote: string[] = [];
      let writeError: unknown;
      const write = async (flag: string, path: string, text: () => string | Promise<string>): Promise<void> => {
        try {
          writeOutputFile(flag, path, await text());
          wrote.push(path);
        } catch (e) {
          writeError ??= e;
        }
      };
      if (jsonTarget !== undefined && jsonTarget !== false) {
        if (jsonToStdout) process.stdout.write(reportJson(report));
        else await write('--json', jsonTarget as string, () => reportJson(report));
      }
      // vega and vega-lite load only for a report that is written (about half a second).
      if (htmlPath !== undefined) await write('--html', htmlPath, async () => (await import('../../../sim/report/html.ts')).renderHtml(report));
      if (!quiet && !jsonToStdout) {
        process.stdout.write(`${renderSummary(report)}\n`);
        // Every run replays the same arrivals, so the first run's count is the trace's.
        const skipped = report.runs[0]?.trace.skippedRows ?? 0;
        if (skipped > 0) process.stdout.write(`\nskipped ${skipped} bad trace row${skipped === 1 ? '' : 's'} (--skip-bad-rows; trace.skippedRows in the JSON)\n`);
        if (wrote.length > 0) process.stdout.write(`\nwrote ${wrote.join(', ')}\n`);
      }
      if (writeError !== undefined) throw writeError;
    });
}
