import { join } from 'node:path';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { LocalProvider } from '../cloud/local/local-provider.ts';
import type { CloudProvider } from '../cloud/provider.ts';
import { declaredModels, modelsOfPool, type LoadedConfig } from '../config/load.ts';
import { controllerSection, type ControllerSettings } from '../config/sections/controller.ts';
import { RealClock, type Clock } from '../core/clock.ts';
import { ConfigError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Instance } from '../core/types.ts';
import { createScalingPolicy } from '../../policies/scaling/index.ts';
import { BudgetSchedule } from './budget-schedule.ts';
import { candidatesFromConfig, classesFromConfig } from './candidates.ts';
import { estimatorFromConfig } from './estimator.ts';
import { ControlLoop, type TickRecord } from './loop.ts';
import { ControllerMetrics } from './prometheus.ts';
import { Reconciler } from './reconciler.ts';
import { readStatus, summarizeTick, writeStatus, type ControllerStatus, type TickSummary } from './status.ts';
import type { FleetMembership, MetricsSource } from './types.ts';

/** The `controller:` section, with defaults when the config has none. */
export function controllerSettings(loaded: LoadedConfig): ControllerSettings {
  return loaded.config.controller ?? controllerSection.parse({});
}

export function statusPath(loaded: LoadedConfig, s: ControllerSettings): string {
  return join(loaded.resolvePath(s.stateDir), `controller-${s.cluster}.json`);
}

/** The cluster's lock (src/control/cluster-lock.ts), beside its status file. */
export function lockPath(loaded: LoadedConfig, s: ControllerSettings): string {
  return join(loaded.resolvePath(s.stateDir), `controller-${s.cluster}.lock`);
}

function localStatePath(loaded: LoadedConfig, s: ControllerSettings): string {
  return join(loaded.resolvePath(s.stateDir), `local-${s.cluster}.json`);
}

export interface ProviderDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  /** `--endpoint-url`: overrides controller.aws.endpointUrl. */
  readonly endpointUrl?: string;
  /** An EC2 client to use instead of one from the SDK chain (tests). */
  readonly ec2Client?: EC2Client;
  /** The readiness check of running EC2 instances, instead of GET controller.aws.readinessPath (tests). */
  readonly readiness?: (instance: Instance) => Promise<boolean>;
  /** The instances the router serves (see Ec2ProviderOptions.served). */
  readonly served?: () => Promise<ReadonlySet<string>>;
  /** Only look (status): the local provider leaves its state file to the running controller. */
  readonly readOnly?: boolean;
  /**
   * The control loop's view: an instance EC2 runs counts as booting until its node answers
   * controller.aws.readinessPath. `status` and `down` list instances as EC2 says (they may run
   * where the nodes cannot be reached).
   */
  readonly checkReadiness?: boolean;
}

/**
 * The cloud the config names, owning only instances tagged with the cluster. The AWS SDK is
 * loaded only for controller.provider aws (it takes about a second to load).
 */
export async function createProvider(loaded: LoadedConfig, s: ControllerSettings, deps: ProviderDeps): Promise<CloudProvider> {
  const priceOf = (t: string) => loaded.catalog.price(t);
  if (s.provider === 'aws') {
    loaded.config.pools.forEach((p, i) => {
      if (p.launchTemplate === undefined) {
        throw new ConfigError(`${loaded.source}: pools[${i}].launchTemplate: pool "${p.name}" needs a launch template with controller.provider aws (see infra/cloudformation)`, { path: `pools[${i}].launchTemplate` });
      }
    });
    const [{ createEc2Client }, { Ec2Provider, httpReadiness }] = await Promise.all([import('../cloud/aws/clients.ts'), import('../cloud/aws/ec2-provider.ts')]);
    const endpointUrl = deps.endpointUrl ?? s.aws.endpointUrl;
    const client = deps.ec2Client ?? createEc2Client({ ...(s.aws.region !== undefined ? { region: s.aws.region } : {}), ...(endpointUrl !== undefined ? { endpointUrl } : {}) });
    const templates = new Map(loaded.config.pools.map((p) => [p.name, p.launchTemplate]));
    return new Ec2Provider({
      client,
      cluster: s.cluster,
      launchTemplateOf: (pool) => templates.get(pool),
      priceOf,
      backendPort: s.aws.backendPort,
      ...(s.aws.readinessPath !== null && deps.checkReadiness === true
        ? { ready: deps.readiness ?? httpReadiness(s.aws.readinessPath), ...(deps.served !== undefined ? { served: deps.served } : {}), now: () => deps.clock.now() }
        : {}),
      logger: deps.logger,
    });
  }
  const model = s.local.model ?? loaded.config.classes[0]!.model;
  const poolModels = declaredModels(loaded.config);
  return new LocalProvider({
    cluster: s.cluster,
    stateFile: localStatePath(loaded, s),
    clock: deps.clock,
    priceOf,
    model,
    slotsOf: (pool) => loaded.config.pools.find((p) => p.name === pool)?.slots ?? 1,
    poolCommand: (pool) => loaded.config.pools.find((p) => p.name === pool)?.command,
    poolModel: (pool) => poolModels(pool)?.[0],
    bootDelayMs: s.local.bootDelay,
    readOnly: deps.readOnly ?? false,
    ...(s.local.command !== undefined ? { command: s.local.command } : {}),
    logger: deps.logger,
  });
}

export interface ControllerDeps extends ProviderDeps {
  readonly loaded: LoadedConfig;
  /** The router's membership (its admin API in production). */
  readonly membership: FleetMembership;
  /** Where load is observed (router snapshot or CloudWatch). */
  readonly metrics: MetricsSource;
  readonly dryRun?: boolean;
}

export interface Controller {
  readonly settings: ControllerSettings;
  readonly provider: CloudProvider;
  readonly reconciler: Reconciler;
  readonly loop: ControlLoop;
  readonly budget: BudgetSchedule;
  readonly prometheus: ControllerMetrics;
  readonly statusFile: string;
  /** One tick; records metrics and the status file. */
  tick(): Promise<TickRecord>;
}

/** Wires config, cloud, router and policy into a control loop (the `controller` command's core). */
export async function createController(deps: ControllerDeps): Promise<Controller> {
  const { loaded, logger } = deps;
  const clock = deps.clock ?? new RealClock();
  const settings = controllerSettings(loaded);
  // A config the planner cannot size (two pools of one type) is refused at start, not at each tick.
  candidatesFromConfig(loaded);
  const members = deps.membership.members?.bind(deps.membership);
  const served = members === undefined ? undefined : async (): Promise<ReadonlySet<string>> => new Set([...(await members())].filter(([, b]) => !b.draining).map(([id]) => id));
  const provider = await createProvider(loaded, settings, { ...deps, clock, checkReadiness: deps.dryRun !== true, ...(served !== undefined ? { served } : {}) });
  const statusFile = statusPath(loaded, settings);
  // Keep the history of earlier runs (--once from cron appends to it), and their drains.
  const kept: TickSummary[] = [];
  let prior: ControllerStatus | undefined;
  try {
    prior = readStatus(statusFile);
    if (prior !== undefined && prior.cluster === settings.cluster) kept.push(...prior.ticks.slice(-20));
    else prior = undefined;
  } catch (e) {
    logger.warn({ err: (e as Error).message, file: statusFile }, 'ignoring an unreadable status file');
  }
  const poolOfType = new Map<string, string>();
  for (const p of loaded.config.pools) if (!poolOfType.has(p.type)) poolOfType.set(p.type, p.name);
  const reconciler = new Reconciler({
    provider,
    modelsOf: modelsOfPool(loaded.config),
    membership: deps.membership,
    clock,
    logger,
    priceOf: (t) => loaded.catalog.price(t),
    poolOf: (t) => poolOfType.get(t) ?? t,
    launchTimeoutMs: settings.launchTimeout,
    drainTimeoutMs: settings.drainTimeout,
    cluster: settings.cluster,
    draining: new Map(Object.entries(prior?.draining ?? {})),
  });
  const budget = new BudgetSchedule(loaded.config.budget.usdPerHour, loaded.config.budget.schedule);
  const estimator = estimatorFromConfig(settings.estimator);
  const loop = new ControlLoop({
    clock,
    metrics: deps.metrics,
    ...(estimator !== undefined ? { estimator } : {}),
    policy: createScalingPolicy(loaded.config.scaling.policy, loaded.config.scaling.options, { lateBinding: loaded.config.routing.lateBinding }),
    reconciler,
    classes: classesFromConfig(loaded),
    candidates: () => candidatesFromConfig(loaded),
    budgetAt: (now) => budget.at(now),
    logger,
    dryRun: deps.dryRun ?? false,
    capacityCooldownMs: settings.capacityCooldown,
    capacityCooldowns: new Map(Object.entries(prior?.cooldowns ?? {})),
  });
  const prometheus = new ControllerMetrics();
  return {
    settings,
    provider,
    reconciler,
    loop,
    budget,
    prometheus,
    statusFile,
    async tick() {
      const rec = await loop.tick();
      prometheus.record(rec);
      // A dry run leaves no trace: it must not look like a running controller's decisions.
      if (!(deps.dryRun ?? false) && rec.status !== 'skipped') {
        kept.push(summarizeTick(rec));
        if (kept.length > 20) kept.splice(0, kept.length - 20);
        try {
          writeStatus(statusFile, {
            cluster: settings.cluster,
            provider: provider.name,
            pid: process.pid,
            updatedAtMs: clock.now(),
            ticks: kept,
            draining: Object.fromEntries(reconciler.draining()),
            cooldowns: Object.fromEntries(loop.cooldowns.entries(clock.now())),
          });
        } catch (e) {
          logger.warn({ err: (e as Error).message, file: statusFile }, 'cannot write the status file');
        }
      }
      return rec;
    },
  };
}
