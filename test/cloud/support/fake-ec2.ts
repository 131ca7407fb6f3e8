import {
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandInput,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import type { Clock } from '../../../src/core/clock.ts';

export function awsError(name: string, message = name, status = 400): EC2ServiceException {
  return new EC2ServiceException({ name, message, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
}

interface FakeInstance {
  id: string;
  type: string;
  state: 'pending' | 'running' | 'shutting-down' | 'terminated';
  launchedAtMs: number;
  tags: Tag[];
  ip: string;
}

/**
 * EC2 at the network edge: aws-sdk-client-mock answers RunInstances, DescribeInstances and
 * TerminateInstances from an in-memory region with ClientToken idempotency, tag filters,
 * boot delay on a clock and injectable faults (throttling, capacity, launches that hang).
 */
export class FakeEc2 {
  readonly client = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  readonly mock = mockClient(this.client);
  readonly instances = new Map<string, FakeInstance>();
  readonly runInputs: RunInstancesCommandInput[] = [];
  readonly terminated: string[][] = [];
  private readonly tokens = new Map<string, string[]>();
  private next = 1;
  noCapacity = new Set<string>();
  /** Types whose instances EC2 accepts (answering pending) and then terminates at once (a bad AMI, a volume key it may not use). */
  endAtOnce = new Set<string>();
  unsupported = new Set<string>();
  stuck = new Set<string>();
  /** Calls to fail with RequestLimitExceeded before answering again. */
  throttleNext = 0;
  /** EC2 is eventually consistent: DescribeInstances misses launches younger than this. */
  describeLagMs = 0;
  /** RunInstances answers lost on the way back (the launch happened; the caller sees an error). */
  loseRunAnswers = 0;
  /** Called before each call is answered; may throw an error for it (a fault for one call, one id, one type). */
  fault: ((call: 'RunInstances' | 'DescribeInstances' | 'TerminateInstances', input: RunInstancesCommandInput | DescribeInstancesCommandInput | { InstanceIds?: string[] }) => void) | undefined;
  /** Ids the next DescribeInstances answer leaves out (eventual consistency), once. */
  missNext = new Set<string>();
  /** When > 0, DescribeInstances answers at most this many instances a page, with a NextToken for the rest (MaxResults or not). */
  pageSize = 0;

  constructor(
    private readonly clock: Clock,
    private readonly bootMs = 60_000,
  ) {
    // Someone else's instance in the same account: must never be listed or terminated.
    this.instances.set('i-0foreign0000000', { id: 'i-0foreign0000000', type: 'm5.large', state: 'running', launchedAtMs: 0, tags: [{ Key: 'team', Value: 'other' }], ip: '10.9.9.9' });
    this.mock.on(RunInstancesCommand).callsFake((input: RunInstancesCommandInput) => {
      this.fault?.('RunInstances', input);
      const answer = this.run(input);
      if (this.loseRunAnswers > 0) {
        this.loseRunAnswers--;
        throw awsError('RequestTimeout', 'socket hang up', 500);
      }
      return answer;
    });
    this.mock.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => {
      this.fault?.('DescribeInstances', input);
      return this.describe(input);
    });
    this.mock.on(TerminateInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => {
      this.fault?.('TerminateInstances', input);
      return this.terminate(input.InstanceIds ?? []);
    });
  }

  private throttle(): void {
    if (this.throttleNext > 0) {
      this.throttleNext--;
      throw awsError('RequestLimitExceeded', 'Request limit exceeded.', 503);
    }
  }

  private refresh(): void {
    const now = this.clock.now();
    for (const i of this.instances.values()) {
      if (i.state === 'pending' && this.endAtOnce.has(i.type)) i.state = 'terminated';
      if (i.state === 'pending' && !this.stuck.has(i.type) && now - i.launchedAtMs >= this.bootMs) i.state = 'running';
      if (i.state === 'shutting-down') i.state = 'terminated';
    }
  }

  private view(i: FakeInstance): Ec2Instance {
    const token = [...this.tokens].find(([, ids]) => ids.includes(i.id))?.[0];
    return { ...(token !== undefined ? { ClientToken: token } : {}), InstanceId: i.id, InstanceType: i.type as Ec2Instance['InstanceType'], State: { Name: i.state }, LaunchTime: new Date(i.launchedAtMs), Tags: i.tags, PrivateIpAddress: i.ip };
  }

  private run(input: RunInstancesCommandInput) {
    this.throttle();
    this.runInputs.push(input);
    const token = input.ClientToken ?? '';
    const prior = this.tokens.get(token);
    if (token !== '' && prior !== undefined) return { Instances: prior.map((id) => this.view(this.instances.get(id)!)) };
    const type = input.InstanceType ?? 'unknown';
    if (this.unsupported.has(type)) throw awsError('Unsupported', `The requested configuration is currently not supported.`);
    if (this.noCapacity.has(type)) throw awsError('InsufficientInstanceCapacity', `We currently do not have sufficient ${type} capacity.`, 500);
    const tags = (input.TagSpecifications ?? []).find((t) => t.ResourceType === 'instance')?.Tags ?? [];
    const ids: string[] = [];
    for (let k = 0; k < (input.MaxCount ?? 1); k++) {
      const n = this.next++;
      const id = `i-${n.toString(16).padStart(17, '0')}`;
      this.instances.set(id, { id, type, state: 'pending', launchedAtMs: this.clock.now(), tags, ip: `10.0.${n >> 8}.${n & 255}` });
      ids.push(id);
    }
    if (token !== '') this.tokens.set(token, ids);
    return { Instances: ids.map((id) => this.view(this.instances.get(id)!)) };
  }

  private describe(input: DescribeInstancesCommandInput) {
    this.throttle();
    this.refresh();
    const now = this.clock.now();
    const miss = new Set(this.missNext);
    this.missNext.clear();
    let list = [...this.instances.values()].filter((i) => now - i.launchedAtMs >= this.describeLagMs && !miss.has(i.id));
    if (input.InstanceIds !== undefined && input.InstanceIds.length > 0) {
      const missing = input.InstanceIds.filter((id) => !this.instances.has(id));
      if (missing.length > 0) throw awsError('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
      list = list.filter((i) => input.InstanceIds!.includes(i.id));
    }
    for (const f of input.Filters ?? []) {
      const values = f.Values ?? [];
      if (f.Name?.startsWith('tag:')) {
        const key = f.Name.slice(4);
        list = list.filter((i) => i.tags.some((t) => t.Key === key && values.includes(t.Value ?? '')));
      } else if (f.Name === 'instance-id') {
        list = list.filter((i) => values.includes(i.id));
      } else if (f.Name === 'instance-state-name') {
        list = list.filter((i) => values.includes(i.state));
      } else {
        throw awsError('InvalidParameterValue', `filter ${f.Name} is not supported by the fake`);
      }
    }
    if (this.pageSize > 0) {
      const start = Number(input.NextToken ?? '0');
      const end = start + this.pageSize;
      return { Reservations: [{ Instances: list.slice(start, end).map((i) => this.view(i)) }], ...(end < list.length ? { NextToken: String(end) } : {}) };
    }
    return { Reservations: [{ Instances: list.map((i) => this.view(i)) }] };
  }

  private terminate(ids: string[]) {
    this.throttle();
    for (const id of ids) if (!this.instances.has(id)) throw awsError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
    this.terminated.push([...ids]);
    for (const id of ids) this.instances.get(id)!.state = 'shutting-down';
    return { TerminatingInstances: ids.map((id) => ({ InstanceId: id })) };
  }

  /** An instance that dies on its own. */
  kill(id: string): void {
    this.instances.get(id)!.state = 'terminated';
  }
}
