import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config/load.ts';
import { BudgetSchedule } from '../../src/control/budget-schedule.ts';
import { TAG_CLUSTER, TAG_MANAGED_BY, TAG_POOL } from '../../src/cloud/aws/tags.ts';
import { REPO_ROOT } from '../support/cli.ts';

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const infra = (...p: string[]) => join(REPO_ROOT, 'infra', ...p);
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const withAction = (stmts: Statement[], a: string) => stmts.filter((s) => actions(s).includes(a));
const resources = (s: Statement): unknown[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);
const mentions = (r: unknown, what: string) => JSON.stringify(r).includes(what);

/** The least-privilege rules, checked on any rendering of the controller's policy. */
function checkControllerPolicy(stmts: Statement[]): void {
  assert.ok(stmts.every((s) => s.Effect === 'Allow'));
  assert.ok(!stmts.some((s) => actions(s).some((a) => a === '*' || a === 'ec2:*' || a === 'iam:*')), 'no wildcard actions');

  const run = withAction(stmts, 'ec2:RunInstances');
  const onInstances = run.filter((s) => resources(s).some((r) => mentions(r, ':instance/')));
  assert.equal(onInstances.length, 1, 'one RunInstances grant covers instances');
  const c = onInstances[0]!.Condition!;
  assert.ok(c.StringEquals?.[`aws:RequestTag/${TAG_CLUSTER}`] !== undefined, 'RunInstances requires the cluster tag in the request');
  assert.deepEqual([...(c['ForAllValues:StringEquals']?.['aws:TagKeys'] as string[])].sort(), [TAG_CLUSTER, TAG_MANAGED_BY, TAG_POOL, 'Name'].sort());
  for (const s of run.filter((x) => x !== onInstances[0])) {
    assert.ok(!resources(s).some((r) => mentions(r, ':instance/') || mentions(r, ':volume/')), `${s.Sid}: untagged instance launches`);
  }

  const tags = withAction(stmts, 'ec2:CreateTags');
  assert.ok(tags.length > 0);
  for (const s of tags) assert.equal(s.Condition?.StringEquals?.['ec2:CreateAction'], 'RunInstances', 'CreateTags only on launch');
  assert.equal(withAction(stmts, 'ec2:DeleteTags').length, 0);

  for (const a of ['ec2:TerminateInstances', 'ec2:StopInstances']) {
    const ss = withAction(stmts, a);
    assert.ok(ss.length > 0, a);
    for (const s of ss) assert.ok(s.Condition?.StringEquals?.[`ec2:ResourceTag/${TAG_CLUSTER}`] !== undefined, `${a} only where the cluster tag matches`);
  }

  for (const s of withAction(stmts, 'iam:PassRole')) {
    assert.equal(s.Condition?.StringEquals?.['iam:PassedToService'], 'ec2.amazonaws.com');
    assert.ok(!resources(s).includes('*'), 'PassRole names the node role');
  }
  assert.ok(withAction(stmts, 'cloudwatch:GetMetricData').length > 0, 'CloudWatch read');
  const put = withAction(stmts, 'cloudwatch:PutMetricData');
  assert.ok(put.length > 0, 'CloudWatch put');
  for (const s of put) assert.ok(JSON.stringify(s.Condition ?? {}).includes('cloudwatch:namespace'), 'PutMetricData only in our namespaces');
  for (const s of stmts.filter((x) => resources(x).includes('*'))) {
    assert.ok(actions(s).every((a) => /^(ec2:Describe|cloudwatch:(Get|List|PutMetricData))/.test(a)), `${s.Sid}: only reads (and namespaced puts) on "*"`);
  }
}

describe('infra', () => {
  it('the IAM policy lets the controller touch only instances tagged with its cluster', () => {
    const doc = JSON.parse(readFileSync(infra('iam', 'controller-policy.json'), 'utf8')) as { Version: string; Statement: Statement[] };
    assert.equal(doc.Version, '2012-10-17');
    checkControllerPolicy(doc.Statement);
  });

  it('the CloudFormation template has a launch template per pool and the same controller policy', () => {
    const t = parse(readFileSync(infra('cloudformation', 'mixscale.yaml'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>; Parameters: Record<string, unknown> };
    const res = Object.values(t.Resources);
    const templates = res.filter((r) => r.Type === 'AWS::EC2::LaunchTemplate');
    assert.ok(templates.length >= 2);
    for (const lt of templates) {
      const data = lt.Properties.LaunchTemplateData as { MetadataOptions?: { HttpTokens?: string }; IamInstanceProfile?: unknown };
      assert.equal(data.MetadataOptions?.HttpTokens, 'required', 'IMDSv2 only');
      assert.ok(data.IamInstanceProfile !== undefined);
    }
    const role = t.Resources.ControllerRole!;
    const policies = role.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[];
    checkControllerPolicy(policies.flatMap((p) => p.PolicyDocument.Statement));
    assert.ok(t.Parameters.ClusterName !== undefined);
  });

  for (const unit of ['mixscale-router.service', 'mixscale-controller.service']) {
    it(`the systemd unit ${unit} runs the CLI unprivileged and restarts on failure`, () => {
      const text = readFileSync(infra('systemd', unit), 'utf8');
      const sections = new Map<string, Map<string, string>>();
      let cur: Map<string, string> | undefined;
      for (const line of text.split('\n')) {
        const l = line.trim();
        if (l === '' || l.startsWith('#')) continue;
        const h = /^\[(\w+)\]$/.exec(l);
        if (h) sections.set(h[1]!, (cur = new Map()));
        else {
          const kv = /^(\w+)=(.*)$/.exec(l);
          assert.ok(kv && cur, `${unit}: cannot parse "${l}"`);
          cur.set(kv[1]!, kv[2]!);
        }
      }
      const svc = sections.get('Service')!;
      assert.match(svc.get('ExecStart') ?? '', /bin\/mixscale\.js --config \S+ (router|controller)$/);
      assert.equal(svc.get('Restart'), 'on-failure');
      assert.ok(svc.get('User') !== undefined && svc.get('User') !== 'root');
      assert.equal(svc.get('NoNewPrivileges'), 'true');
      assert.ok(sections.get('Install')?.get('WantedBy') !== undefined);
    });
  }

  it('the example AWS config is valid, and every pool has a launch template', () => {
    const loaded = loadConfigFile(infra('examples', 'aws.yaml'));
    assert.equal(loaded.config.controller?.provider, 'aws');
    for (const p of loaded.config.pools) assert.ok(p.launchTemplate !== undefined, p.name);
  });

  it("the example AWS budget schedule does what its comments say: weekdays, weeknights, the whole weekend", () => {
    const loaded = loadConfigFile(infra('examples', 'aws.yaml'));
    const budget = new BudgetSchedule(loaded.config.budget.usdPerHour, loaded.config.budget.schedule, { utc: true });
    // 2026-11-23 is a Monday.
    const at = (day: number, hour: number) => budget.at(Date.UTC(2026, 10, 23 + day, hour));
    assert.equal(at(0, 10), 4, 'Monday daytime');
    assert.equal(at(0, 22), 2, 'Monday night');
    assert.equal(at(1, 3), 2, 'Tuesday before 07:00');
    assert.equal(at(4, 22), 2, 'Friday night');
    for (const [day, hour] of [[5, 10], [5, 22], [6, 12], [6, 23]] as const) assert.equal(at(day, hour), 1.5, `weekend day ${day} ${hour}:00`);
    assert.equal(at(7, 3), 1.5, 'Monday before 07:00 still the weekend budget');
    assert.equal(at(7, 8), 4, 'Monday from 07:00');
  });

  for (const name of ['local.yaml', 'mixed.yaml']) {
    it(`the local example config ${name} is valid and uses the local provider with a router`, () => {
      const loaded = loadConfigFile(join(REPO_ROOT, 'examples', name));
      assert.equal(loaded.config.controller?.provider, 'local');
      assert.ok(loaded.config.controller?.routerUrl !== undefined);
    });
  }

  it('the walkthrough configs keep one budget at every hour, so the walkthrough runs the same by day and by night', () => {
    // examples/local.yaml had a night budget ($1.0/h from 20:00): run in the evening, the
    // walkthrough stayed on CPU nodes, missed its SLO and failed a fifth of its requests.
    for (const name of ['local.yaml', 'mixed.yaml']) assert.deepEqual(loadConfigFile(join(REPO_ROOT, 'examples', name)).config.budget.schedule, [], name);
  });

  it('the mixed example serves each model on its own pools, edge nodes started by their own command', () => {
    const loaded = loadConfigFile(join(REPO_ROOT, 'examples', 'mixed.yaml'));
    const edge = loaded.config.pools.find((p) => p.name === 'edge')!;
    assert.deepEqual(edge.models, ['digits-cnn']);
    assert.ok(edge.command?.includes('edge'));
    assert.ok(loaded.config.pools.filter((p) => p.name !== 'edge').every((p) => p.models?.join() === 'rm2'));
  });

  it("the example configs' node commands do not depend on the controller's working directory", () => {
    // `[node, bin/mixscale.js, ...]` finds the CLI only from the repository root: a controller
    // started elsewhere (`--config /path/to/examples/mixed.yaml`) saw every edge node die at once
    // with "Cannot find module". A first word `mixscale` runs this checkout's CLI from anywhere.
    for (const name of ['local.yaml', 'mixed.yaml']) {
      const loaded = loadConfigFile(join(REPO_ROOT, 'examples', name));
      const commands = [loaded.config.controller?.local?.command, ...loaded.config.pools.map((p) => p.command)].filter((c) => c !== undefined);
      for (const argv of commands) {
        const relative = argv.filter((a) => !isAbsolute(a) && a.includes('/') && existsSync(join(REPO_ROOT, a)));
        assert.deepEqual(relative, [], `${name}: ${JSON.stringify(argv)} names ${relative.join(', ')} relative to the working directory`);
      }
    }
  });
});
