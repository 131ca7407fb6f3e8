import { randomInt } from 'node:crypto';
import { Option, type Command } from 'commander';
import { RealClock } from '../../core/clock.ts';
import { MixscaleError } from '../../core/errors.ts';
import { LatencyHistogram } from '../../core/histogram.ts';
import type { Logger } from '../../core/log.ts';
import { Rng } from '../../core/rng.ts';
import { createConfiguredRoutingPolicy } from '../../../policies/routing/index.ts';
import { RouterServer, type HotPath } from '../../routing/server.ts';
import { decimal, hostOption, loggerFor, requireConfig, stopSignal } from '../context.ts';

interface RouterOptions {
  host?: string;
  port?: string;
  policy?: string;
  hotPath: HotPath;
}

const SUMMARY_EVERY_MS = 60_000;

function parsePort(v: string): number {
  const n = decimal(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new MixscaleError('MIXSCALE_USAGE', `--port: "${v}" is not a port (0..65535; 0 lets the OS choose)`);
  return n;
}

/** One log line per minute: load and tail latency per class, rejections, backends accepting. */
function startSummary(router: RouterServer, clock: RealClock, log: Logger): () => void {
  let timer = clock.setTimeout(function tick() {
    const s = router.metrics.snapshot();
    const classes = Object.fromEntries(
      s.classes.map((c) => {
        const h = LatencyHistogram.decode(c.latency);
        return [c.name, { rps: Number(c.rps.toFixed(2)), completed: c.completed, rejected: c.rejected, p50Ms: Number(h.quantile(0.5).toFixed(1)), p99Ms: Number(h.quantile(0.99).toFixed(1)) }];
      }),
    );
    const backends = router.tracker.backends;
    log.info({ windowMs: Math.round(s.windowMs), classes, backends: backends.length, accepting: backends.filter((b) => b.accepting).length }, 'router summary');
    timer = clock.setTimeout(tick, SUMMARY_EVERY_MS);
  }, SUMMARY_EVERY_MS);
  return () => clock.clearTimeout(timer);
}

export function registerRouter(program: Command): void {
  program
    .command('router')
    .description('run the HTTP request router (OIP v2 inference, admin API, /metrics)')
    .option('--host <host>', 'listen address (default: router.listen.host)', hostOption)
    .option('--port <port>', 'listen port, 0 for any free one (default: router.listen.port)')
    .option('--policy <name>', 'routing policy (default: routing.policy in the config)')
    .addOption(new Option('--hot-path <how>', 'inference dispatch: lean node handler or through express').choices(['lean', 'express']).default('lean'))
    .addHelpText(
      'after',
      `
The first stdout line is {"listening":"http://HOST:PORT"}. SIGTERM or SIGINT stops accepting,
lets in-flight requests finish, and exits 0. Admin token: router.adminToken or env
MIXSCALE_ADMIN_TOKEN. API and config: docs/router.md.

Examples:
  MIXSCALE_ADMIN_TOKEN=... mixscale router --config examples/local.yaml
  mixscale router --config examples/local.yaml --port 0 --policy least-outstanding`,
    )
    .action(async (opts: RouterOptions, cmd: Command) => {
      const log = loggerFor(cmd);
      const loaded = requireConfig(cmd);
      const settings = loaded.config.router;
      // routing.options belong to routing.policy; another policy named by --policy runs with its defaults.
      const policy = createConfiguredRoutingPolicy(opts.policy ?? loaded.config.routing.policy, loaded.config.routing.policy, loaded.config.routing.options);
      const clock = new RealClock();
      const router = new RouterServer(loaded, { clock, rng: new Rng(randomInt(2 ** 31)), log, policy, hotPath: opts.hotPath });
      const host = opts.host ?? settings?.listen.host ?? '127.0.0.1';
      const port = opts.port !== undefined ? parsePort(opts.port) : (settings?.listen.port ?? 8080);
      let url: string;
      try {
        url = await router.listen(port, host);
      } catch (e) {
        await router.close();
        throw new MixscaleError('MIXSCALE_USAGE', `cannot listen on ${host}:${port}: ${(e as Error).message}`);
      }
      process.stdout.write(`${JSON.stringify({ listening: url })}\n`);
      log.info({ url, policy: policy.name, backends: router.tracker.backends.length, hotPath: opts.hotPath }, 'router listening');
      const stopSummary = startSummary(router, clock, log);
      const signal = await stopSignal();
      log.info({ signal, inFlight: router.infer.requestsInFlight }, 'shutting down: finishing in-flight requests');
      stopSummary();
      await router.close();
      log.info('router stopped');
    });
}
