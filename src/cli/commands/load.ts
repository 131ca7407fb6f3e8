import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { readTraceChunks } from '../../../sim/workload.ts';
import { loadConfigFile, type LoadedConfig } from '../../config/load.ts';
import { MAX_REQUEST_ROWS } from '../../config/sections/node.ts';
import { RealClock } from '../../core/clock.ts';
import { MixscaleError } from '../../core/errors.ts';
import type { SizeSpec } from '../../core/sizes.ts';
import { formatMix } from '../../core/types.ts';
import { formatDuration } from '../../core/units.ts';
import { parseClassMix } from '../../load/classes.ts';
import { PAYLOAD_KINDS, PayloadBuilder, parseParam, type PayloadKind } from '../../load/payload.ts';
import { readyUrl, waitReady } from '../../load/ready.ts';
import { inferUrl, replayTrace, type ReplayOptions, type ReplayReport } from '../../load/replay.ts';
import { checkJsonFile, durationOption, globalOptions, nameTraceSetting, nonNegativeIntegerOption, onStopSignals, positiveDurationOption, positiveIntegerOption, positiveNumberOption, writeOutputFile } from '../context.ts';
import { renderTable } from '../table.ts';

interface LoadOpts {
  trace: string;
  target?: string;
  model: string;
  timeScale?: number;
  peakRps?: number;
  start?: number;
  duration?: number;
  traceModel?: string;
  sizeColumn?: string;
  sizeScale?: number;
  sizes?: SizeSpec;
  classes?: string;
  payload: PayloadKind;
  param: Array<[string, number | string | boolean]>;
  connections: number;
  timeout: number;
  seed: number;
  skipBadRows?: boolean;
  progress: boolean;
  waitReady?: number | true;
}


function sizesArg(v: string): SizeSpec {
  if (v === 'kairos') return { kind: 'kairos' };
  const m = /^fixed:(\d+)$/.exec(v);
  if (m !== null && Number(m[1]) > MAX_REQUEST_ROWS) throw new MixscaleError('MIXSCALE_USAGE', `--sizes: ${m[1]} is more than ${MAX_REQUEST_ROWS}, the most rows a node takes in one request`);
  if (m !== null && Number(m[1]) > 0) return { kind: 'fixed', size: Number(m[1]) };
  throw new MixscaleError('MIXSCALE_USAGE', `--sizes: "${v}" is not a size spec; allowed: kairos, fixed:N`);
}

export function registerLoad(program: Command): void {
  program
    .command('load')
    .description('replay a trace over HTTP as open-loop load and report latency per class')
    .requiredOption('--trace <file>', 'trace CSV (per request t_ms[,size...] or a rate series t_s,count|rps)')
    .option('--target <url>', 'router or node base URL, or a full /v2/models/NAME/infer URL (default with --config: the router\'s listen address)')
    .option('--model <name>', 'model in the infer path when --target is a base URL', 'rm2')
    .option('--time-scale <x>', 'replay speed-up: 60 replays an hour in a minute', positiveNumberOption('--time-scale'))
    .option('--peak-rps <rps>', 'rescale so the busiest minute averages this rate', positiveNumberOption('--peak-rps'))
    .option('--start <duration>', 'start this far into the trace (trace time)', durationOption('--start'))
    .option('--duration <duration>', 'replay this much of the trace (trace time, before --time-scale)', positiveDurationOption('--duration'))
    .option('--trace-model <name>', 'for a rate series with a model column: which model')
    .option('--size-column <name>', 'size column of a per-request trace (default: size, batch, input_tokens, output_tokens)')
    .option('--size-scale <x>', 'multiply trace sizes (e.g. tokens to batch sizes)', positiveNumberOption('--size-scale'))
    .option('--sizes <spec>', 'sizes for arrivals the trace does not size: kairos or fixed:N (default: kairos; fixed:1 with --payload digits)', sizesArg)
    .option('--classes <mix>', 'label requests with classes by share, e.g. interactive:0.3,batch:0.7 (sent as parameters.class)')
    .addOption(new Option('--payload <kind>', 'what a request carries: size (a tensor of SIZE rows) or digits (real test digits, for the edge node)').choices([...PAYLOAD_KINDS]).default('size'))
    .option('--param <key=value>', 'extra OIP parameter on every request (repeatable), e.g. latency_ms=20', (v: string, acc: Array<[string, number | string | boolean]>) => [...acc, parseParam(v)], [])
    .option('--connections <n>', 'most open connections to the target', positiveIntegerOption('--connections'), 256)
    // The default is shown as the duration one would type, not as the ms it parses to.
    .addOption(new Option('--timeout <duration>', 'per-request timeout').argParser(positiveDurationOption('--timeout')).default(30_000, '30s'))
    .option('--seed <n>', 'seed for Poisson expansion, sizes and classes', nonNegativeIntegerOption('--seed'), 1)
    .option('--skip-bad-rows', 'skip and count malformed trace rows instead of failing')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--wait-ready [duration]', "first wait until the target's /v2/models/MODEL/ready answers 200 (default: up to 60s)", positiveDurationOption('--wait-ready'))
    .addHelpText(
      'after',
      `
Examples:
  mixscale load --trace sim/scenarios/traces/servegen-deepseek-r1-day.csv --target http://127.0.0.1:8080 --time-scale 1440 --peak-rps 40
  mixscale load --trace trace.csv --target http://127.0.0.1:8001 --model digits-cnn --payload digits --param latency_ms=8 --json out.json

Latency counts from each request's intended send time (open loop, no coordinated omission).`,
    )
    .action(async (opts: LoadOpts, cmd: Command) => {
      const g = globalOptions(cmd);
      // Checked before the replay, so a long replay never ends in a write that fails.
      checkJsonFile(cmd);
      // A config given is loaded and validated, as by every command, even when --target says where to send.
      const loaded = g.config !== undefined ? loadConfigFile(g.config) : undefined;
      const target = opts.target ?? routerTarget(loaded);
      // Everything the command line says is checked before the trace is read or anything is sent.
      const infer = inferUrl(target, opts.model);
      const classes = opts.classes === undefined ? undefined : parseClassMix(opts.classes);
      const trace: ReplayOptions['trace'] = {
        path: resolve(opts.trace),
        model: opts.traceModel,
        sizeColumn: opts.sizeColumn,
        timeScale: opts.timeScale,
        peakRps: opts.peakRps,
        startMs: opts.start,
        durationMs: opts.duration,
        sizeScale: opts.sizeScale,
        maxSize: { size: MAX_REQUEST_ROWS, why: 'the most rows a node takes in one request' },
        // One digit per request unless asked: a Kairos-sized batch of digits is hundreds of rows.
        sizes: opts.sizes ?? (opts.payload === 'digits' ? { kind: 'fixed', size: 1 } : { kind: 'kairos' }),
        seed: opts.seed,
        ...(opts.skipBadRows === true ? { skipBadRows: true } : {}),
      };
      // A first streaming pass counts the arrivals, for the progress bar.
      let total = 0;
      try {
        for await (const c of readTraceChunks(trace)) total += c.length;
      } catch (e) {
        throw nameTraceSetting(e, { model: '--trace-model', start: '--start', peakRps: '--peak-rps', sizeColumn: '--size-column' });
      }
      if (total === 0) {
        const window = [opts.start !== undefined ? '--start' : undefined, opts.duration !== undefined ? '--duration' : undefined].filter((f) => f !== undefined);
        throw new MixscaleError('MIXSCALE_USAGE', `${window.length > 0 ? `${window.join(', ')}: ` : ''}no arrivals in the chosen window of ${opts.trace}: nothing to send`);
      }
      if (opts.waitReady !== undefined) await waitUntilReady(readyUrl(infer), opts.waitReady === true ? 60_000 : opts.waitReady);
      const bar = opts.progress ? new SingleBar({ stream: process.stderr, format: 'load [{bar}] {value}/{total} sent | {ok} ok | {failed} failed', hideCursor: true }) : undefined;
      bar?.start(total, 0, { ok: 0, failed: 0 });
      // Ctrl-C (or SIGTERM) stops sending and reports what was measured, as wrk does; a second
      // one quits at once.
      const interrupt = new AbortController();
      const onSignal = (): void => {
        if (!interrupt.signal.aborted) return interrupt.abort();
        bar?.stop();
        process.exit(130);
      };
      const offSignals = onStopSignals(onSignal);
      let report: ReplayReport;
      try {
        report = await replayTrace(
          {
            trace,
            target,
            model: opts.model,
            payload: new PayloadBuilder({ kind: opts.payload, parameters: Object.fromEntries(opts.param) }),
            classes,
            connections: opts.connections,
            timeoutMs: opts.timeout,
            seed: opts.seed,
            signal: interrupt.signal,
            onProgress: (p) => bar?.update(p.sent, { ok: p.ok, failed: p.failed }),
          },
          new RealClock(),
        );
      } finally {
        offSignals();
        bar?.stop();
      }
      if (g.json !== undefined && g.json !== false) {
        const text = `${JSON.stringify(report, null, 2)}\n`;
        if (typeof g.json !== 'string') {
          process.stdout.write(text);
          return endOf(report);
        }
        // A write that fails still prints the summary; the failure comes after it.
        try {
          writeOutputFile('--json', g.json, text);
        } catch (e) {
          process.stdout.write(`${summarize(report)}\n`);
          throw e;
        }
      }
      process.stdout.write(`${summarize(report)}\n`);
      endOf(report);
    });
}

/** --wait-ready: waits for the target's model to be ready, saying so on stderr; Ctrl-C stops it (exit 130). */
async function waitUntilReady(url: URL, timeoutMs: number): Promise<void> {
  process.stderr.write(`load: waiting up to ${formatDuration(timeoutMs)} for ${url.href}\n`);
  const interrupt = new AbortController();
  const offSignals = onStopSignals(() => interrupt.abort());
  const t0 = Date.now();
  try {
    await waitReady(url, timeoutMs, interrupt.signal);
  } finally {
    offSignals();
  }
  process.stderr.write(`load: ready after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

/**
 * After the report is out: an interrupted replay exits 130 (as a shell reports Ctrl-C), and
 * one where no request succeeded fails (exit 1): the target is down or refuses everything.
 */
function endOf(r: ReplayReport): void {
  if (r.interrupted) throw new MixscaleError('MIXSCALE_INTERRUPTED', `load: interrupted after ${r.sent} requests; the report covers those`);
  if (r.sent === 0 || r.ok > 0) return;
  const why = Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`).join(', ');
  throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `load: none of the ${r.sent} requests to ${r.target} succeeded${why === '' ? '' : ` (${why})`}`);
}

/** The router a config describes, as the default target. */
function routerTarget(loaded: LoadedConfig | undefined): string {
  if (loaded === undefined) throw new MixscaleError('MIXSCALE_USAGE', 'load: --target URL is required (or --config FILE with a router section)');
  const listen = loaded.config.router?.listen;
  if (listen === undefined) throw new MixscaleError('MIXSCALE_USAGE', `load: ${loaded.source} has no router section; pass --target URL`);
  return `http://${listen.host}:${listen.port}`;
}

function summarize(r: ReplayReport): string {
  const ms = (v: number): string => v.toFixed(1);
  // Latency is of the answers that succeeded: a class with none has no percentiles, not 0 ms.
  const rows = Object.entries(r.classes).map(([name, c]) => [
    name,
    String(c.sent),
    String(c.ok),
    String(c.failed),
    ...(c.latencyMs !== null ? [c.latencyMs.p50, c.latencyMs.p90, c.latencyMs.p99, c.latencyMs.p999, c.latencyMs.max].map(ms) : ['-', '-', '-', '-', '-']),
  ]);
  const failures = Object.entries(r.failures).map(([k, v]) => `${k}: ${v}`).join(', ');
  const offered = r.offeredRps === null ? '' : ` (offered ${r.offeredRps.toFixed(1)} rps)`;
  return [
    `${r.target}: ${r.sent} requests in ${(r.durationMs / 1000).toFixed(1)} s${offered}, ${r.ok} ok, ${r.failed} failed${failures === '' ? '' : ` (${failures})`}${r.interrupted ? ', interrupted' : ''}`,
    renderTable(['class', 'sent', 'ok', 'failed', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'], rows),
    ...Object.entries(r.failureExamples).map(([k, v]) => `first ${k}: ${v}`),
    `latency from the intended send time; generator send lag p99 ${ms(r.sendLagMs.p99)} ms, max ${ms(r.sendLagMs.max)} ms`,
    ...(r.trace.skippedRows > 0 ? [`skipped ${r.trace.skippedRows} bad trace row${r.trace.skippedRows === 1 ? '' : 's'} (--skip-bad-rows), first: ${r.trace.skipped[0] ?? '?'}`] : []),
    ...(r.fleet.length > 0 ? [`fleet over time: ${r.fleet.map((f) => `${(f.tMs / 1000).toFixed(0)}s ${formatMix(f.mix)}`).join(' → ')}`] : []),
  ].join('\n');
}
