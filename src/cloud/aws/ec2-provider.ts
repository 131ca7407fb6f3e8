import {
  paginateDescribeInstances,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Filter,
  type Instance as Ec2Instance,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { request } from 'undici';
import { timerMs } from '../../core/clock.ts';
import { MixscaleError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/log.ts';
import type { Instance, InstanceState } from '../../core/types.ts';
import { ownedPrice, type CloudProvider, type LaunchSpec } from '../provider.ts';
import { fromAwsError } from './errors.ts';
import { MANAGED_BY, TAG_CLUSTER, TAG_MANAGED_BY, TAG_POOL } from './tags.ts';

export interface Ec2ProviderOptions {
  readonly client: EC2Client;
  /** Value of the cluster tag: everything this provider sees and touches carries it. */
  readonly cluster: string;
  /** Launch template (name, or id `lt-…`) of each pool. */
  readonly launchTemplateOf: (pool: string) => string | undefined;
  readonly priceOf: (type: string) => number;
  /** Port the node serves on inside the instance (the router reaches http://IP:PORT). */
  readonly backendPort?: number;
  /**
   * Whether a running instance serves yet (its node has loaded its model). EC2's `running` only
   * says the machine booted: until this says yes the instance is listed as pending, so it is not
   * registered with the router, nor counted as the replacement a drain waits for. Absent: running
   * is ready. The controller passes `httpReadiness` (OIP's GET /v2/health/ready).
   */
  readonly ready?: (instance: Instance) => Promise<boolean>;
  /**
   * The instances the router serves now (registered, not draining): some controller found them
   * ready, so they are not asked again (a restarted controller, or one run by cron, that cannot
   * reach the nodes must not take a serving fleet for a booting one). When it cannot be told
   * (the router unreachable), running instances are taken as EC2 says. Absent: every running
   * instance is asked until it answers.
   */
  readonly served?: () => Promise<ReadonlySet<string>>;
  /** The clock instance ages are measured on, for the unreachable-nodes warning (default: the wall clock). */
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** A readiness check over HTTP: GET `path` on the instance's address answers 200 within `timeoutMs`. */
export function httpReadiness(path: string, timeoutMs = 2_000): (instance: Instance) => Promise<boolean> {
  return async (instance) => {
    if (instance.address === undefined) return false;
    try {
      const res = await request(new URL(path, instance.address), { method: 'GET', signal: AbortSignal.timeout(timerMs(timeoutMs)) });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  };
}

/** EC2 states we bill and manage. shutting-down/terminated are gone; stopped ones are not ours to restart. */
const STATE: Readonly<Record<string, InstanceState>> = { pending: 'pending', running: 'running' };
/** Every state describe() reports (list() reports only those above). */
const ANY_STATE: Readonly<Record<string, InstanceState>> = { ...STATE, 'shutting-down': 'shutting-down', terminated: 'terminated', stopping: 'shutting-down', stopped: 'terminated' };

function tag(i: Ec2Instance, key: string): string | undefined {
  return i.Tags?.find((t) => t.Key === key)?.Value;
}

/**
 * EC2 as a CloudProvider: RunInstances from the pool's launch template with the instance
 * type overridden, tagged at creation; DescribeInstances filtered by the cluster tag (which
 * is how a restarted controller adopts its fleet); TerminateInstances only of instances that
 * carry our cluster tag (checked here, and enforced again by the IAM policy).
 */
export class Ec2Provider implements CloudProvider {
  readonly name = 'aws';
  private readonly o: Ec2ProviderOptions;
  private readonly log: Logger;
  /** Running instances whose readiness check has passed, or that the router serves (not asked again). */
  private readonly readyIds = new Set<string>();

  constructor(options: Ec2ProviderOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
  }

  private clusterFilter(): Filter[] {
    return [
      { Name: `tag:${TAG_CLUSTER}`, Values: [this.o.cluster] },
      { Name: 'instance-state-name', Values: ['pending', 'running'] },
    ];
  }

  private toInstance(i: Ec2Instance, states: Readonly<Record<string, InstanceState>> = STATE): Instance | undefined {
    const state = states[i.State?.Name ?? ''];
    if (i.InstanceId === undefined || i.InstanceType === undefined || state === undefined) return undefined;
    const ip = i.PrivateIpAddress;
    const usdPerHour = ownedPrice(this.o.priceOf, i.InstanceType, () => this.log.warn({ id: i.InstanceId, type: i.InstanceType }, 'owned instance of a type the catalog lacks; priced at 0'));
    return {
      id: i.InstanceId,
      type: i.InstanceType,
      pool: tag(i, TAG_POOL) ?? 'unknown',
      state,
      launchedAtMs: i.LaunchTime?.getTime() ?? 0,
      ...(ip !== undefined ? { address: `http://${ip}:${this.o.backendPort ?? 8000}` } : {}),
      usdPerHour,
      ...(i.ClientToken !== undefined && i.ClientToken !== '' ? { clientToken: i.ClientToken } : {}),
    };
  }

  async list(): Promise<Instance[]> {
    let owned: Ec2Instance[];
    try {
      owned = await this.owned(this.clusterFilter());
    } catch (e) {
      throw fromAwsError(e, 'DescribeInstances');
    }
    return this.withReadiness(owned.flatMap((i) => this.toInstance(i) ?? []));
  }

  async describe(ids: readonly string[]): Promise<Instance[]> {
    if (ids.length === 0) return [];
    try {
      return (await this.ownedOf(ids)).flatMap((i) => this.toInstance(i, ANY_STATE) ?? []);
    } catch (e) {
      throw fromAwsError(e, 'DescribeInstances');
    }
  }

  /**
   * Those of `ids` that carry this cluster's tag, in any state. By filter, not InstanceIds: one
   * id EC2 does not know (yet) would fail the whole call; a filter leaves it out.
   */
  private ownedOf(ids: readonly string[]): Promise<Ec2Instance[]> {
    return this.owned([{ Name: 'instance-id', Values: [...ids] }, { Name: `tag:${TAG_CLUSTER}`, Values: [this.o.cluster] }]);
  }

  /**
   * The instances DescribeInstances gives for `filters`, every page of them (an owned instance on
   * a later page would be taken for someone else's), less any without this cluster's tag: belt
   * and braces, whatever the endpoint returns.
   */
  private async owned(filters: Filter[]): Promise<Ec2Instance[]> {
    const out: Ec2Instance[] = [];
    for await (const page of paginateDescribeInstances({ client: this.o.client }, { Filters: filters })) {
      for (const res of page.Reservations ?? []) for (const i of res.Instances ?? []) if (tag(i, TAG_CLUSTER) === this.o.cluster) out.push(i);
    }
    return out;
  }

  /** Running instances not ready yet are pending (see `ready`); those ready once stay running. */
  private async withReadiness(listed: Instance[]): Promise<Instance[]> {
    const ready = this.o.ready;
    if (ready === undefined) return listed;
    const ids = new Set(listed.map((i) => i.id));
    for (const id of this.readyIds) if (!ids.has(id)) this.readyIds.delete(id);
    let asked = listed.filter((i) => i.state === 'running' && !this.readyIds.has(i.id));
    if (asked.length === 0) return listed;
    if (this.o.served !== undefined) {
      let served: ReadonlySet<string>;
      try {
        served = await this.o.served();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'the router cannot say which instances it serves; taking running instances as EC2 says');
        return listed;
      }
      for (const i of asked) if (served.has(i.id)) this.readyIds.add(i.id);
      asked = asked.filter((i) => !served.has(i.id));
    }
    const answers = await Promise.all(asked.map((i) => ready(i)));
    const booting = new Set<string>();
    asked.forEach((i, k) => (answers[k] === true ? this.readyIds.add(i.id) : booting.add(i.id)));
    // Nodes load their models for minutes; none answering after that suggests they cannot be reached.
    const now = (this.o.now ?? Date.now)();
    if (booting.size > 0 && booting.size === asked.length && asked.every((i) => now - i.launchedAtMs > 600_000)) {
      this.log.warn({ booting: booting.size }, 'no running instance has answered its readiness check for 10 minutes: can this controller reach the nodes? (controller.aws.readinessPath: null turns the check off)');
    }
    return listed.map((i) => (booting.has(i.id) ? { ...i, state: 'pending' } : i));
  }

  async launch(spec: LaunchSpec): Promise<Instance[]> {
    if (spec.count === 0) return [];
    const template = this.o.launchTemplateOf(spec.pool);
    if (template === undefined) {
      throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `pools: pool "${spec.pool}" has no launchTemplate; the aws provider launches from one per pool`, { pool: spec.pool });
    }
    const tags = [
      { Key: TAG_CLUSTER, Value: this.o.cluster },
      { Key: TAG_POOL, Value: spec.pool },
      { Key: TAG_MANAGED_BY, Value: MANAGED_BY },
      { Key: 'Name', Value: `${this.o.cluster}-${spec.pool}` },
    ];
    try {
      const r = await this.o.client.send(
        new RunInstancesCommand({
          LaunchTemplate: template.startsWith('lt-') ? { LaunchTemplateId: template, Version: '$Default' } : { LaunchTemplateName: template, Version: '$Default' },
          // The SDK's union lags new types; EC2 validates the name, and the catalog already did.
          InstanceType: spec.type as _InstanceType,
          // Partial capacity is still capacity: take what EC2 has, the next tick asks for the rest.
          MinCount: 1,
          MaxCount: spec.count,
          ClientToken: spec.clientToken,
          TagSpecifications: [
            { ResourceType: 'instance', Tags: tags },
            { ResourceType: 'volume', Tags: tags },
          ],
        }),
      );
      const out: Instance[] = [];
      for (const i of r.Instances ?? []) {
        const withTags = i.Tags !== undefined && i.Tags.length > 0 ? i : { ...i, Tags: tags };
        const inst = this.toInstance({ ...withTags, State: i.State ?? { Name: 'pending' } });
        if (inst !== undefined) out.push(inst);
      }
      this.log.info({ type: spec.type, pool: spec.pool, asked: spec.count, got: out.length, ids: out.map((i) => i.id) }, 'RunInstances');
      return out;
    } catch (e) {
      throw fromAwsError(e, 'RunInstances', spec.type);
    }
  }

  async terminate(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    let ownedIds: Set<string>;
    try {
      ownedIds = new Set((await this.ownedOf(ids)).map((i) => i.InstanceId ?? ''));
    } catch (e) {
      const mapped = fromAwsError(e, 'DescribeInstances');
      // An id EC2 does not know at all is certainly not ours.
      if (mapped.details.awsCode === 'InvalidInstanceID.NotFound' || mapped.details.awsCode === 'InvalidInstanceID.Malformed') {
        throw new MixscaleError('MIXSCALE_CLOUD_API', `terminate: not owned by this cluster: ${ids.join(', ')}`, { ids: [...ids], retryable: false });
      }
      throw mapped;
    }
    const foreign = ids.filter((id) => !ownedIds.has(id));
    if (foreign.length > 0) {
      throw new MixscaleError('MIXSCALE_CLOUD_API', `terminate: not owned by this cluster: ${foreign.join(', ')}`, { ids: foreign, retryable: false });
    }
    try {
      await this.o.client.send(new TerminateInstancesCommand({ InstanceIds: [...ids] }));
      this.log.info({ ids }, 'TerminateInstances');
    } catch (e) {
      throw fromAwsError(e, 'TerminateInstances');
    }
  }
}
