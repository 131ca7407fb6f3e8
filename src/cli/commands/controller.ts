import { createServer, type Server } from 'node:http';
import type { Command } from 'commander';
import type { LoadedConfig } from '../../config/load.ts';
import type { ControllerSettings } from '../../config/sections/controller.ts';
import { routerSection } from '../../config/sections/router.ts';
import { RealClock } from '../../core/clock.ts';
import { isMixscaleError, MixscaleError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import { sizePmf } from '../../core/sizes.ts';
import { Rng } from '../../core/rng.ts';
import { BILLED_STATES, formatMix, type Instance, type Mix } from '../../core/types.ts';
import { fixed, roundedFloats } from '../../core/units.ts';
import { BudgetSchedule } from '../../control/budget-schedule.ts';
import { classesFromConfig } from '../../control/candidates.ts';
import { controllerSettings, createController, createProvider, lockPath, statusPath } from '../../control/controller.ts';
import type { TickRecord } from '../../control/loop.ts';
import { controllerRunning, lockCluster, lockHolder } from '../../control/cluster-lock.ts';
import { instancePrice } from '../../control/reconciler.ts';
import { scheduleTicks } from '../../control/scheduler.ts';
import { movingTo, readStatus, summarizeTick, type ControllerStatus, type TickSummary } from '../../control/status.ts';
import { adminToken } from '../../routing/admin.ts';
import type { FleetMembership, MetricsSource } from '../../control/types.ts';
import { RouterAdminClient } from '../../routing/admin-client.ts';
import { RouterSnapshotSource } from '../../routing/snapshot-client.ts';
import { checkJsonFile, jsonFile, jsonRequested, loggerFor, requireConfig, stopSignal, writeOutputFile } from '../context.ts';
import { renderTable } from '../table.ts';

interface ControllerOptions {
  dryRun?: boolean;
  once?: boolean;
  endpointUrl?: string;
}

const usd = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : `$${fixed(x, 2)}`);

function routerUrlOf(s: ControllerSettings, source: string): string {
  if (s.routerUrl === undefined) {
    throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `${source}: controller.routerUrl is required: the controller registers and drains instances through the router's admin API`);
  }
  return s.routerUrl;
}

/**
 * A dry run without the router's admin token: nothing is registered or drained, and requests in
 * flight are not known (read as 0, so a draining instance shows as ready to terminate).
 */
const tokenlessDryRunMembership: FleetMembership = {
  register: async () => undefined,
  drain: async () => undefined,
  inFlight: async () => 0,
  deregister: async () => undefined,
};

function membershipFor(loaded: LoadedConfig, s: ControllerSettings, dryRun: boolean): FleetMembership {
  const routerUrl = routerUrlOf(s, loaded.source);
  let token: string | undefined;
  try {
    token = adminToken(loaded.config.router?.adminToken);
  } catch (e) {
    // A dry run changes nothing at the router: it needs no token, nor a valid one.
    if (!dryRun) throw e;
  }
  if (token === undefined) {
    if (dryRun) return tokenlessDryRunMembership;
    throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `${loaded.source}: the router's admin token is needed: set router.adminToken or the MIXSCALE_ADMIN_TOKEN environment variable`);
  }
  return new RouterAdminClient({ routerUrl, token });
}

/** A router snapshot covering less than this (or than half of router.snapshotWindow) is not planned from. */
const SNAPSHOT_MIN_WINDOW_MS = 2_000;

async function metricsFor(loaded: LoadedConfig, s: ControllerSettings, endpointUrl: string | undefined): Promise<MetricsSource> {
  if (s.observe === 'router') {
    // A snapshot that lacks one of these classes, or that covers too little time to rate (a router
    // started moments ago), is missing data: the tick holds the fleet rather than plan from it.
    const window = (loaded.config.router ?? routerSection.parse({})).snapshotWindow;
    return new RouterSnapshotSource({ routerUrl: routerUrlOf(s, loaded.source), classes: classesFromConfig(loaded).map((c) => c.name), minWindowMs: Math.min(SNAPSHOT_MIN_WINDOW_MS, window / 2) });
  }
  // The AWS SDK loads only where it is used.
  const [{ createCloudWatchClient }, { CloudWatchMetricsSource }] = await Promise.all([import('../../cloud/aws/clients.ts'), import('../../cloud/aws/cloudwatch-metrics.ts')]);
  const url = endpointUrl ?? s.aws.endpointUrl;
  return new CloudWatchMetricsSource({
    client: createCloudWatchClient({ ...(s.aws.region !== undefined ? { region: s.aws.region } : {}), ...(url !== undefined ? { endpointUrl: url } : {}) }),
    namespace: s.aws.namespace,
    classes: classesFromConfig(loaded),
    windowMs: loaded.config.scaling.interval,
    sizes: sizePmf(loaded.config.sim?.sizes ?? { kind: 'kairos' }, new Rng(1)),
  });
}

/**
 * A decided mix: the one the fleet is moving to and, while draining instances hold money, the
 * interim step the tick runs beside them.
 */
function mixText(mix: Mix, target: Mix | undefined, draining?: number): string {
  if (target === undefined) return formatMix(mix);
  const who = draining === undefined || draining === 0 ? 'instances drain' : `${draining} drain${draining === 1 ? 's' : ''}`;
  return `${formatMix(target)} (now ${formatMix(mix)} while ${who})`;
}

export function tickLine(r: TickRecord): string {
  const rec = r.reconcile;
  const parts = [`tick ${r.seq} ${r.status}`, `budget ${usd(r.budgetUsdPerHour)}/h`];
  if (rec !== undefined) parts.push(`spend ${usd(rec.spendUsdPerHour)}/h → ${usd(rec.plannedSpendUsdPerHour)}/h`);
  if (r.decision !== undefined) parts.push(`mix ${mixText(r.decision.mix, movingTo(r.decision), rec?.fleet.filter((i) => i.state === 'draining').length)}`);
  if (rec !== undefined && rec.waiting > 0) parts.push(`${rec.waiting} not serving yet`);
  if (rec !== undefined && rec.actions.length > 0) {
    const acts = rec.actions.map((a) => (a.kind === 'launch' ? `launch ${a.count}×${a.type}` : `${a.kind} ${a.id}`));
    parts.push(`${rec.dryRun ? 'would ' : ''}${acts.join(', ')}`);
  }
  if (r.error !== undefined) parts.push(r.error.message);
  return parts.join('  ');
}

function writeOutput(cmd: Command, text: string, json: unknown): void {
  if (!jsonRequested(cmd)) {
    process.stdout.write(`${text}\n`);
    return;
  }
  const target = jsonFile(cmd);
  if (target !== undefined) writeOutputFile('--json', target, `${JSON.stringify(json, roundedFloats, 2)}\n`);
  else process.stdout.write(`${JSON.stringify(json, roundedFloats)}\n`);
}

function serveMetrics(render: () => Promise<string>, contentType: string, host: string, port: number, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    render().then(
      (body) => res.writeHead(200, { 'content-type': contentType }).end(body),
      (e: unknown) => res.writeHead(500).end(String(e)),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new MixscaleError('MIXSCALE_USAGE', `controller.metrics: cannot listen on ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => {
      const a = server.address();
      logger.info({ url: `http://${host}:${typeof a === 'object' && a !== null ? a.port : port}/metrics` }, 'controller metrics listening');
      resolve(server);
    });
  });
}

async function runController(cmd: Command, opts: ControllerOptions): Promise<void> {
  checkJsonFile(cmd);
  const loaded = requireConfig(cmd);
  const logger = loggerFor(cmd);
  const s = controllerSettings(loaded);
  const dryRun = opts.dryRun ?? false;
  // A dry run changes nothing, so it may run beside the cluster's controller.
  const release = dryRun ? () => {} : lockCluster(lockPath(loaded, s), s.cluster, logger);
  try {
    await runLoop(cmd, opts, loaded, s, logger, dryRun);
  } finally {
    release();
  }
}

async function runLoop(cmd: Command, opts: ControllerOptions, loaded: LoadedConfig, s: ControllerSettings, logger: Logger, dryRun: boolean): Promise<void> {
  const controller = await createController({
    loaded,
    logger,
    clock: new RealClock(),
    membership: membershipFor(loaded, s, dryRun),
    metrics: await metricsFor(loaded, s, opts.endpointUrl),
    dryRun,
    ...(opts.endpointUrl !== undefined ? { endpointUrl: opts.endpointUrl } : {}),
  });
  const report = (r: TickRecord) => {
    if (jsonRequested(cmd) && jsonFile(cmd) === undefined) process.stdout.write(`${JSON.stringify(summarizeTick(r), roundedFloats)}\n`);
    else if (!jsonRequested(cmd)) process.stdout.write(`${tickLine(r)}\n`);
  };

  if (opts.once ?? false) {
    const r = await controller.tick();
    if (jsonFile(cmd) !== undefined) writeOutput(cmd, '', summarizeTick(r));
    else report(r);
    // A mistake the user fixes (the config, a state file not as it should be) exits 2.
    const userCode = r.error?.code === 'MIXSCALE_CONFIG_INVALID' || r.error?.code === 'MIXSCALE_USAGE' ? r.error.code : undefined;
    if (r.status === 'failed') throw new MixscaleError(userCode ?? 'MIXSCALE_INTERNAL', `tick failed: ${r.error?.message ?? 'unknown error'}`);
    // A tick that held the fleet because it could not observe the load did not do its job: a
    // cron job or script must see that (exit 1), as it sees a failed tick.
    if (r.status === 'held' && r.error !== undefined) {
      throw new MixscaleError(userCode ?? 'MIXSCALE_BACKEND_UNAVAILABLE', `tick held the fleet: observing the load failed: ${r.error.message}`);
    }
    // Nor did one an action of which failed (say, IAM refused it): exit 1 naming the first. A
    // capacity error is not such a failure: the tick cooled the type down and replanned around it.
    const failed = (r.reconcile?.failures ?? []).filter((f) => f.code !== 'MIXSCALE_CLOUD_CAPACITY');
    if (failed.length > 0) {
      throw new MixscaleError('MIXSCALE_CLOUD_API', `tick acted only in part: ${failed.length} action${failed.length === 1 ? '' : 's'} failed; first: ${failed[0]!.action.kind}: ${failed[0]!.message}`);
    }
    return;
  }

  const server = s.metrics !== undefined ? await serveMetrics(() => controller.prometheus.registry.metrics(), controller.prometheus.registry.contentType, s.metrics.host, s.metrics.port, logger) : undefined;
  const tick = async () => report(await controller.tick());
  const schedule = scheduleTicks({ schedule: s.schedule, budgetBoundaries: loaded.config.budget.schedule.map((e) => e.cron), tick, logger });
  process.stderr.write(`controller ${s.cluster} (${controller.provider.name}${dryRun ? ', dry run' : ''}): ticks on "${s.schedule}"; SIGTERM or Ctrl-C stops\n`);
  // Listen before the first tick, so a SIGTERM during it still stops cleanly.
  const stopped = stopSignal();
  await tick();
  const signal = await stopped;
  logger.info({ signal }, 'stopping: finishing the tick in progress');
  await schedule.stop();
  while (controller.loop.running) await new Promise((r) => setTimeout(r, 50));
  if (server !== undefined) await new Promise<void>((r) => server.close(() => r()));
}

async function showStatus(cmd: Command, opts: { endpointUrl?: string }): Promise<void> {
  checkJsonFile(cmd);
  const loaded = requireConfig(cmd);
  const logger = loggerFor(cmd);
  const s = controllerSettings(loaded);
  const clock = new RealClock();
  const status = readStatus(statusPath(loaded, s));
  const budget = new BudgetSchedule(loaded.config.budget.usdPerHour, loaded.config.budget.schedule).at(clock.now());
  let fleet: Instance[] | undefined;
  let listError: unknown;
  // A config the provider refuses is a mistake to name (exit 2); a cloud that cannot be asked is
  // reported in the status, which is printed, and then fails the command as `down` would.
  const provider = await createProvider(loaded, s, { clock, logger, readOnly: true, ...(opts.endpointUrl !== undefined ? { endpointUrl: opts.endpointUrl } : {}) });
  try {
    fleet = await provider.list();
  } catch (e) {
    listError = e;
  }
  const fleetError = listError === undefined ? undefined : listError instanceof Error ? listError.message : String(listError);
  const running = status !== undefined ? controllerRunning(status.pid) : undefined;
  const priceOf = (t: string) => loaded.catalog.price(t);
  const spend = fleet?.reduce((a, i) => a + (BILLED_STATES.has(i.state) ? instancePrice(i, priceOf) : 0), 0);
  const ticks: readonly TickSummary[] = status?.ticks ?? [];
  const json = { cluster: s.cluster, provider: s.provider, budgetUsdPerHour: budget, spendUsdPerHour: spend ?? null, fleet: fleet ?? null, fleetError: fleetError ?? null, lastTicks: ticks.slice(-10), statusUpdatedAtMs: status?.updatedAtMs ?? null, controllerRunning: running ?? null };

  const lines: string[] = [`cluster ${s.cluster} on ${s.provider}`];
  if (fleet === undefined) lines.push(`fleet: cannot list (${fleetError ?? 'unknown error'})`);
  else {
    const byType = new Map<string, Record<string, number>>();
    for (const i of fleet) {
      const row = byType.get(i.type) ?? {};
      row[i.state] = (row[i.state] ?? 0) + 1;
      if (BILLED_STATES.has(i.state)) row.usd = (row.usd ?? 0) + instancePrice(i, priceOf);
      byType.set(i.type, row);
    }
    // Terminated local nodes still exiting get a column while there are any.
    const leaving = fleet.some((i) => i.state === 'shutting-down');
    const rows = [...byType.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([t, r]) => [t, String(r.pending ?? 0), String(r.running ?? 0), ...(leaving ? [String(r['shutting-down'] ?? 0)] : []), usd(r.usd ?? 0)]);
    lines.push('', rows.length === 0 ? 'fleet: (none)' : renderTable(['type', 'pending', 'running', ...(leaving ? ['shutting down'] : []), '$/h'], rows));
    lines.push('', `spend ${usd(spend)}/h of budget ${usd(budget)}/h (${budget > 0 && spend !== undefined ? ((100 * spend) / budget).toFixed(0) : '-'}%)`);
  }
  if (status === undefined) lines.push('', 'no decisions recorded yet (is the controller running with this config?)');
  else {
    lines.push('', `last decisions (updated ${new Date(status.updatedAtMs).toISOString()}, controller pid ${status.pid} ${running === true ? '(running)' : '(not running)'}):`);
    const shown = ticks.slice(-5);
    shown.forEach((t, k) => {
      // Each controller run (each --once too) numbers its decisions from #1.
      if (k > 0 && t.seq <= shown[k - 1]!.seq) lines.push('  -- a new controller run starts here --');
      lines.push(`  ${new Date(t.atMs).toISOString()}  #${t.seq} ${t.status}  ${t.mix !== undefined ? mixText(t.mix, t.movingTo) : ''}${t.reason !== undefined ? `  (${t.reason})` : ''}${t.error !== undefined ? `  ${t.error}` : ''}`);
      for (const a of t.actions) lines.push(`      ${a}`);
    });
  }
  writeOutput(cmd, lines.join('\n'), json);
  if (listError !== undefined) throw new MixscaleError(isMixscaleError(listError) ? listError.code : 'MIXSCALE_CLOUD_API', `controller status: cannot list the fleet: ${fleetError}`);
}

/**
 * Tears the cluster down: every owned instance is deregistered from the router (when it can be
 * reached) and terminated. For local runs, where the nodes outlive the controller on purpose.
 * Refuses while the cluster's controller runs (it would launch them again at its next tick).
 */
async function tearDown(cmd: Command, opts: { dryRun?: boolean; force?: boolean; endpointUrl?: string }): Promise<void> {
  checkJsonFile(cmd);
  const loaded = requireConfig(cmd);
  const logger = loggerFor(cmd);
  const s = controllerSettings(loaded);
  if (!(opts.dryRun ?? false)) {
    const file = statusPath(loaded, s);
    let status: ControllerStatus | undefined;
    try {
      status = readStatus(file);
    } catch (e) {
      logger.warn({ file, err: (e as Error).message }, 'cannot read the status file; not checking it for a running controller');
    }
    // The lock names the controller holding the cluster; the status file, one that ran before locks.
    const lock = lockPath(loaded, s);
    const holder = lockHolder(lock);
    const running = holder !== undefined ? { pid: holder, file: lock } : status !== undefined && controllerRunning(status.pid) ? { pid: status.pid, file } : undefined;
    if (running !== undefined) {
      if (!(opts.force ?? false)) {
        throw new MixscaleError(
          'MIXSCALE_USAGE',
          `controller down: the controller of cluster "${s.cluster}" is running as pid ${running.pid} (${running.file}) and would launch the fleet again; stop it first (kill ${running.pid}), or pass --force`,
        );
      }
      logger.warn({ pid: running.pid }, 'tearing down while the controller runs (--force): it will launch the fleet again at its next tick');
    }
  }
  const provider = await createProvider(loaded, s, { clock: new RealClock(), logger, ...(opts.endpointUrl !== undefined ? { endpointUrl: opts.endpointUrl } : {}) });
  const fleet = await provider.list();
  const ids = fleet.map((i) => i.id);
  if (!(opts.dryRun ?? false) && ids.length > 0) {
    // Tearing down must not stop at a bad token: the router is told what it can be, and the
    // instances go either way.
    let token: string | undefined;
    try {
      token = adminToken(loaded.config.router?.adminToken);
    } catch (e) {
      logger.warn({ err: (e as Error).message }, 'cannot deregister from the router; terminating anyway');
    }
    if (s.routerUrl !== undefined && token !== undefined) {
      const router = new RouterAdminClient({ routerUrl: s.routerUrl, token, timeoutMs: 2_000 });
      for (const id of ids) {
        try {
          await router.deregister(id);
        } catch (e) {
          logger.warn({ id, err: (e as Error).message }, 'router unreachable; terminating anyway');
        }
      }
    }
    await provider.terminate(ids);
    // Local nodes finish in-flight work on SIGTERM (SIGKILL after a grace period, sent by
    // list()): wait until they are gone, so `down` means down.
    const deadline = Date.now() + 15_000;
    let left = ids.length;
    while (left > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      left = (await provider.list()).filter((i) => ids.includes(i.id)).length;
    }
    if (left > 0) logger.warn({ left }, 'some nodes are still shutting down');
  }
  const verb = (opts.dryRun ?? false) ? 'would terminate' : 'terminated';
  writeOutput(cmd, ids.length === 0 ? `cluster ${s.cluster}: nothing to terminate` : `cluster ${s.cluster}: ${verb} ${ids.length}: ${ids.join(', ')}`, { cluster: s.cluster, dryRun: opts.dryRun ?? false, terminated: ids });
}

/** `--endpoint-url`: an http(s) URL, checked before anything is loaded or called. */
function endpointUrlArg(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MixscaleError('MIXSCALE_USAGE', `--endpoint-url: "${text}" is not a URL (e.g. http://localhost:4566)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MixscaleError('MIXSCALE_USAGE', `--endpoint-url: "${text}" must be an http(s) URL`);
  return text;
}

export function registerController(program: Command): void {
  const controller = program
    .command('controller')
    .description('run the control loop: observe → forecast → plan → reconcile (EC2 or local)')
    .option('--dry-run', 'observe and plan for real, print the actions it would take, change nothing')
    .option('--once', 'run a single tick and exit (for cron jobs and scripts)')
    .option('--endpoint-url <url>', 'AWS endpoint for EC2 and CloudWatch (compatible services)', endpointUrlArg)
    .addHelpText(
      'after',
      `
Examples:
  mixscale controller --config examples/local.yaml
  mixscale controller --config infra/examples/aws.yaml --dry-run --once
  mixscale controller status --config examples/local.yaml
  mixscale controller down --config examples/local.yaml     # stop the local nodes`,
    )
    .action(async (opts: ControllerOptions, cmd: Command) => runController(cmd, opts));
  controller
    .command('status')
    .description('print the fleet, spend rate vs budget, and the last decisions')
    .option('--endpoint-url <url>', 'AWS endpoint for EC2 (compatible services)', endpointUrlArg)
    .action(async (opts: { endpointUrl?: string }, cmd: Command) => showStatus(cmd, subcommandOptions(cmd, opts, ['endpointUrl'])));
  controller
    .command('down')
    .description('terminate every instance of the cluster (deregistering it from the router first)')
    .option('--dry-run', 'list what would be terminated')
    .option('--force', 'tear down even while the cluster’s controller runs (it will launch again)')
    .option('--endpoint-url <url>', 'AWS endpoint for EC2 (compatible services)', endpointUrlArg)
    .action(async (opts: { dryRun?: boolean; force?: boolean; endpointUrl?: string }, cmd: Command) => tearDown(cmd, subcommandOptions(cmd, opts, ['dryRun', 'endpointUrl'])));
}

/**
 * A subcommand's options, taking those it shares with the loop from wherever commander put
 * them: the loop's command reads its own flags after the subcommand's name too, so
 * `controller down --dry-run` set the loop's --dry-run, and down, not seeing it, terminated
 * the fleet. A loop-only flag given to a subcommand is refused rather than ignored.
 */
function subcommandOptions<T extends object>(cmd: Command, own: T, shared: ReadonlyArray<keyof ControllerOptions>): T {
  const loop = (cmd.parent?.opts() ?? {}) as ControllerOptions;
  const out = { ...own } as Record<string, unknown>;
  for (const [key, value] of Object.entries(loop)) {
    if (value === undefined) continue;
    if (!shared.includes(key as keyof ControllerOptions)) {
      const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
      throw new MixscaleError('MIXSCALE_USAGE', `controller ${cmd.name()}: ${flag} is an option of the control loop, not of ${cmd.name()}`);
    }
    out[key] ??= value;
  }
  return out as T;
}
