import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, loadConfigObject } from '../../src/config/load.ts';
import { ConfigError } from '../../src/core/errors.ts';

const GOOD = `# the smallest useful config
budget:
  usdPerHour: 2.5
classes:
  - name: interactive
    model: rm2
    slo: 350ms
pools:
  - name: fast
    type: g4dn.xlarge
    bootTime: 2m
  - name: frugal
    type: r5n.large
`;

function write(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-config-'));
  const p = join(dir, 'config.yaml');
  writeFileSync(p, text);
  return p;
}

function fails(text: string, pattern: RegExp): ConfigError {
  let caught: unknown;
  try {
    loadConfigFile(write(text));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, 'MIXSCALE_CONFIG_INVALID');
  assert.match(caught.message, pattern);
  return caught;
}

describe('config loading', () => {
  it('accepts a good file and fills in the documented defaults', () => {
    const { config, catalog, profiles } = loadConfigFile(write(GOOD));
    assert.equal(config.budget.usdPerHour, 2.5);
    assert.equal(config.classes[0]!.slo, 350);
    assert.equal(config.classes[0]!.sloQuantile, 0.99);
    assert.equal(config.pools[0]!.bootTime, 120_000);
    assert.equal(config.pools[1]!.slots, 1);
    assert.equal(config.scaling.policy, 'fast-frugal');
    assert.equal(config.scaling.interval, 30_000);
    assert.equal(config.routing.policy, 'heterogeneity-aware');
    assert.equal(catalog.price('g4dn.xlarge'), 0.526);
    assert.ok(profiles.has('r5n.large', 'rm2'));
  });

  it('names a typo’d key, with its line', () => {
    fails(GOOD.replace('budget:', 'budgett:\n  usdPerHour: 1\nbudget:'), /config\.yaml:2: unknown key "budgett"/);
    fails(GOOD.replace('    slo: 350ms', '    slo: 350ms\n    sloo: 1'), /config\.yaml:8: classes\[0\]: unknown key "sloo"/);
    // A stray top-level key after others: its own line, not the document's first.
    fails(`${GOOD}\nfoo: 1\n`, new RegExp(`config\\.yaml:${GOOD.split('\n').length + 1}: unknown key "foo"`));
  });

  it('a misspelt required key is one line with the key it meant, not also a "missing" line for that key', () => {
    const e = fails(GOOD.replace('  usdPerHour: 2.5', '  usdPerHor: 2.5'), /^[^\n]*config\.yaml:3: budget: unknown key "usdPerHor" \(did you mean "usdPerHour"\?\)$/);
    assert.ok(!e.message.includes('missing'), e.message);
    // Nested in an array, and a key no known one is close to.
    fails(GOOD.replace('    type: r5n.large', '    type: r5n.large\n    maxCont: 3'), /config\.yaml:14: pools\[1\]: unknown key "maxCont" \(did you mean "maxCount"\?\)/);
    fails(GOOD.replace('    slo: 350ms', '    slo: 350ms\n    zzzzzz: 1'), /classes\[0\]: unknown key "zzzzzz" \(check the spelling; see docs\/config\.md\)/);
  });

  it('refuses a budget that buys nothing, or not the pools\' minCount', () => {
    fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: 0.1'), /config\.yaml:3: budget\.usdPerHour: \$0\.1\/h buys no instance: the cheapest pool type, r5n\.large, costs \$0\.149\/h/);
    fails(GOOD.replace('    bootTime: 2m', '    bootTime: 2m\n    minCount: 5'), /config\.yaml:3: budget\.usdPerHour: \$2\.5\/h cannot pay for the pools' minCount \(\$2\.630\/h\)/);
    // A schedule: the base budget may buy nothing (the fleet off at night) if a scheduled one does...
    const night = GOOD.replace('usdPerHour: 2.5', 'usdPerHour: 0.1\n  schedule:\n    - { cron: "0 0 8 * * *", usdPerHour: 2 }');
    assert.equal(loadConfigFile(write(night)).config.budget.schedule.length, 1);
    // ...but every budget in force must pay for the minCounts, and some budget must buy an instance.
    fails(night.replace('    bootTime: 2m', '    bootTime: 2m\n    minCount: 1'), /config\.yaml:3: budget\.usdPerHour: \$0\.1\/h cannot pay for the pools' minCount/);
    fails(night.replace('usdPerHour: 2 }', 'usdPerHour: 0.12 }'), /budget\.usdPerHour: \$0\.1\/h buys no instance, nor does any scheduled budget/);
    fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: 2.5\n  schedule:\n    - { cron: "0 0 8 * * *", usdPerHour: 0.3 }').replace('    bootTime: 2m', '    bootTime: 2m\n    minCount: 1'), /config\.yaml:5: budget\.schedule\[0\]\.usdPerHour: \$0\.3\/h cannot pay/);
  });

  it('checks that a policy sim.compare runs beside scaling.policy can run on its default options', () => {
    fails(`${GOOD}sim:\n  rps: 5\n  duration: 1m\n  compare: [fast-frugal, static-mix]\n`, /config\.yaml:\d+: sim\.compare\[1\]: scaling\.options\.mix: static-mix needs .*make static-mix the scaling\.policy/);
  });

  it('wants an http(s) controller.aws.endpointUrl', () => {
    fails(`${GOOD}controller:\n  cluster: c1\n  provider: aws\n  aws:\n    endpointUrl: ftp://example.com\n`, /controller\.aws\.endpointUrl: must be an http\(s\) URL/);
    fails(`${GOOD}controller:\n  cluster: c1\n  provider: aws\n  aws:\n    readinessPath: v2/health/ready\n`, /controller\.aws\.readinessPath: .*"\/"/);
    fails(`${GOOD}controller:\n  routerUrl: ftp://x\n`, /controller\.routerUrl: must be an http\(s\) URL/);
    fails(`${GOOD}controller:\n  aws:\n    region: "not a region!!"\n`, /controller\.aws\.region: expected an AWS region such as us-east-1/);
    for (const region of ['us-east-1', 'us-gov-west-1', 'eusc-de-east-1']) assert.equal(loadConfigFile(write(`${GOOD}controller:\n  aws:\n    region: ${region}\n`)).config.controller?.aws.region, region);
    fails(GOOD.replace('slo: 350ms', `slo: ${'9'.repeat(400)}ms`), /classes\[0\]\.slo: expected a duration/);
    const utf16 = write('');
    writeFileSync(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(GOOD, 'utf16le')]));
    assert.throws(() => loadConfigFile(utf16), (e: Error) => e.message === `${utf16}: not UTF-8 text (UTF-16?): save it as UTF-8`);
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  sizes: { kind: mixture, components: [{ weight: 1e308, dist: { kind: fixed, size: 5 } }, { weight: 1e308, dist: { kind: fixed, size: 50 } }] }\n`, /sim\.sizes\.components: weights must add up to a finite number/);
    // What would hang the planner or exhaust memory is capped, naming the field.
    fails(GOOD.replace('    bootTime: 2m', '    bootTime: 2m\n    slots: 1000000000'), /pools\[0\]\.slots: at most 10000 \(got 1000000000\)$/);
    fails(`${GOOD}node:\n  edge:\n    maxBatch: 100000000\n`, /node\.edge\.maxBatch: at most 1024 \(got 100000000\)$/);
  });

  it('refuses an empty listen address, which would listen on every interface, naming the field', () => {
    for (const [yaml, field] of [
      ['router:\n  listen: {host: "", port: 0}\n', 'router.listen.host'],
      ['node:\n  host: " "\n', 'node.host'],
      ['controller:\n  metrics: {host: "", port: 0}\n', 'controller.metrics.host'],
    ] as const) {
      fails(`${GOOD}${yaml}`, new RegExp(`${field.replace(/\./g, '\\.')}: expected an address to listen on \\(127\\.0\\.0\\.1, or 0\\.0\\.0\\.0 for every interface\\)`));
    }
  });

  it('bounds the times that would make a run never end: scaling.interval 1s to 1d, sim.window from 1s, bootTime up to 1d, sim.rps up to a million', () => {
    fails(`${GOOD}scaling:\n  interval: 30\n`, /scaling\.interval: must be from 1s to 1d \(a bare number is milliseconds\) \(got 30\)/);
    fails(`${GOOD}scaling:\n  interval: 2d\n`, /scaling\.interval: must be from 1s to 1d/);
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  window: 500ms\n`, /sim\.window: must be at least 1s/);
    fails(`${GOOD}sim:\n  rps: 2000000\n  duration: 1m\n`, /sim\.rps: .*1000000/);
    fails(GOOD.replace('bootTime: 2m', 'bootTime: 1000d'), /pools\[0\]\.bootTime: must be at most a day \(1d\) \(got "1000d"\)/);
  });

  it('names a node command placeholder the local provider does not fill (it reached the node as typed)', () => {
    fails(GOOD.replace('bootTime: 2m', 'bootTime: 2m\n    command: [node, n.js, "--type={typ}", \'{"json":1}\']'), /pools\[0\]\.command\[2\]: unknown placeholder \{typ\}; known: \{type\}, \{model\}, \{pool\}, \{id\}, \{slots\} \(got "--type=\{typ\}"\)/);
    fails(`${GOOD}controller:\n  local:\n    command: [mixscale, node, emulated, --model, "{modle}"]\n`, /controller\.local\.command\[4\]: unknown placeholder \{modle\}/);
    // A shell's ${VAR} in an sh -c wrapper passes through.
    const shell = loadConfigFile(write(`${GOOD}controller:\n  local:\n    command: [sh, -c, 'exec mixscale node emulated --type {type} --port 0 2>>"\${HOME}/node-{id}.log"']\n`));
    assert.match(shell.config.controller!.local.command![2]!, /\$\{HOME\}/);
  });

  it('names a negative budget and the value it got', () => {
    const e = fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: -3'), /config\.yaml:3: budget\.usdPerHour: .*positive.*got -3/);
    assert.equal(e.details.path, 'budget.usdPerHour');
  });

  it('shows a NaN or infinite value as such, not as null', () => {
    fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: .nan'), /budget\.usdPerHour: .*\(got NaN\)$/);
    fails(GOOD.replace('    bootTime: 2m', '    bootTime: 2m\n    slots: .inf'), /pools\[0\]\.slots: .*\(got Infinity\)$/);
  });

  it('refuses sizes whose bounds are the wrong way round or not whole, naming the field', () => {
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  sizes: {kind: lognormal, mu: 5, sigma: 1, min: 900, max: 10}\n`, /sim\.sizes\.min: must be ≤ max/);
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  sizes: {kind: uniform, min: 1.5, max: 3}\n`, /sim\.sizes\.min: must be a whole number \(got 1\.5\)/);
  });

  it('names a bad duration and what is allowed', () => {
    fails(GOOD.replace('350ms', 'soon'), /classes\[0\]\.slo: expected a duration .*"30s".*got "soon"/);
  });

  it('shows a bad duration’s value once', () => {
    const e = fails(`${GOOD}scaling:\n  interval: 30 seconds\n`, /config\.yaml:\d+: scaling\.interval: expected a duration/);
    assert.equal(e.message.split('"30 seconds"').length - 1, 1, e.message);
  });

  it('refuses a zero duration where zero makes no sense, naming the field and line, and keeps it where it means off', () => {
    const lines = GOOD.split('\n').length;
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  window: 0s\n`, new RegExp(`config\\.yaml:${lines + 3}: sim\\.window: must be at least 1s \\(a bare number is milliseconds\\) \\(got "0s"\\)`));
    fails(`${GOOD}scaling:\n  interval: 0s\n`, new RegExp(`config\\.yaml:${lines + 1}: scaling\\.interval: must be from 1s to 1d \\(a bare number is milliseconds\\)`));
    fails(GOOD.replace('350ms', '0ms'), /config\.yaml:7: classes\[0\]\.slo: must be a duration > 0/);
    fails(`${GOOD}router:\n  snapshotWindow: 0s\n`, /router\.snapshotWindow: must be a duration > 0/);
    fails(`${GOOD}router:\n  requestTimeout: 0\n`, /router\.requestTimeout: must be a duration > 0 \(got 0\)/);
    fails(`${GOOD}router:\n  health:\n    interval: 0s\n`, /router\.health\.interval: must be a duration > 0/);
    fails(`${GOOD}router:\n  health:\n    timeout: 0s\n`, /router\.health\.timeout: must be a duration > 0/);
    fails(`${GOOD}router:\n  cloudwatch:\n    interval: 0s\n`, /router\.cloudwatch\.interval: must be a duration > 0/);
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 0s\n`, /sim\.duration: must be a duration > 0/);
    fails(`${GOOD}sim:\n  trace:\n    path: t.csv\n    duration: 0s\n`, /sim\.trace\.duration: must be a duration > 0/);
    fails(`${GOOD}controller:\n  launchTimeout: 0s\n`, /controller\.launchTimeout: must be a duration > 0/);
    fails(`${GOOD}controller:\n  estimator:\n    stableWindow: 0s\n`, /controller\.estimator\.stableWindow: must be a duration > 0/);
    fails(`${GOOD}controller:\n  estimator:\n    panicWindow: 0s\n`, /controller\.estimator\.panicWindow: must be a duration > 0/);
    fails(`${GOOD}controller:\n  estimator:\n    season: 0s\n`, /controller\.estimator\.season: must be a duration > 0/);
    fails(`${GOOD}controller:\n  estimator:\n    stableWindow: 5s\n    panicWindow: 10s\n`, /config\.yaml:\d+: controller\.estimator\.panicWindow: must be ≤ stableWindow/);
    // Zero stays where it means off or none.
    const { config } = loadConfigFile(
      write(`${GOOD.replace('bootTime: 2m', 'bootTime: 0s')}controller:\n  drainTimeout: 0\n  capacityCooldown: 0s\n  local:\n    bootDelay: 0s\n  estimator:\n    horizon: 0s\nsim:\n  trace:\n    path: t.csv\n    start: 0s\n`),
    );
    assert.equal(config.pools[0]!.bootTime, 0);
    assert.equal(config.controller!.drainTimeout, 0);
    assert.equal(config.controller!.capacityCooldown, 0);
    assert.equal(config.controller!.local.bootDelay, 0);
    assert.equal(config.controller!.estimator!.horizon, 0);
    assert.equal(config.sim!.trace!.start, 0);
  });

  it('takes a byte size above zero only, in either form', () => {
    assert.equal(loadConfigFile(write(`${GOOD}router:\n  bodyLimit: 2kb\n`)).config.router!.bodyLimit, 2048);
    for (const v of ['0', '"0kb"', '"0.0001kb"', '"0"']) fails(`${GOOD}router:\n  bodyLimit: ${v}\n`, /router\.bodyLimit: /);
    fails(`${GOOD}router:\n  bodyLimit: "0kb"\n`, /config\.yaml:\d+: router\.bodyLimit: must be a size above zero bytes \(got "0kb"\)/);
    // node.bodyLimit is a byte size too (it was any string, and a node started with "lots" crashed).
    assert.equal(loadConfigFile(write(`${GOOD}node:\n  bodyLimit: 2kb\n`)).config.node!.bodyLimit, 2048);
    fails(`${GOOD}node:\n  bodyLimit: lots\n`, new RegExp(`config\\.yaml:${GOOD.split('\n').length + 1}: node\\.bodyLimit: expected a size`));
    fails(`${GOOD}node:\n  bodyLimit: 0mb\n`, /node\.bodyLimit: must be a size above zero bytes/);
  });

  it('names a missing required field', () => {
    fails(GOOD.replace('    model: rm2\n', ''), /classes\[0\]\.model: .*missing/);
  });

  it('names an unknown instance type with a suggestion', () => {
    fails(GOOD.replace('type: r5n.large', 'type: r5n.largee'), /:13: pools\[1\]\.type: unknown instance type "r5n\.largee" \(did you mean "r5n\.large"/);
  });

  it('refuses a pool type with no profile for a class model', () => {
    fails(GOOD.replace('type: r5n.large', 'type: m5.large'), /pools\[1\]\.type: no service-time profile for model "rm2"/);
  });

  it('refuses a value outside an enum, listing the allowed ones', () => {
    fails(`${GOOD}controller:\n  provider: gcp\n`, /controller\.provider: got "gcp"; allowed: "aws", "local"/);
  });

  it('refuses duplicate pool names and YAML syntax errors with a line', () => {
    fails(GOOD.replace('name: frugal', 'name: fast'), /pools\[1\]\.name: duplicate pool name "fast"/);
    fails('budget: [1,\n', /config\.yaml:\d+: YAML syntax error/);
  });

  it("words a wrong type, a missing section or a value out of range in the config's terms, not zod's", () => {
    fails('budget: 1\n', /config\.yaml:1: budget: expected a mapping \(got 1\)\n.*config\.yaml:1: classes: missing \(expected a list\)\n.*pools: missing \(expected a list\)$/);
    fails('', /config\.yaml: budget: missing \(expected a mapping\)\n/);
    fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour:'), /config\.yaml:3: budget\.usdPerHour: expected a number \(got nothing\)$/);
    fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: lots'), /config\.yaml:3: budget\.usdPerHour: expected a number \(got "lots"\)$/);
    fails(GOOD.replace(/classes:\n(  .*\n)+/, 'classes: []\n'), /classes: at least 1 item \(got 0 items\)$/);
  });

  it('refuses a YAML tag that is not plain data (a !!binary budget), naming the tag and its line', () => {
    const lines = GOOD.split('\n').length;
    fails(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: !!binary aGVsbG8='), /config\.yaml:3: YAML tag !!binary is not supported in a config: write a plain number, string, list or map$/);
    fails(`${GOOD}catalog: !!set { a }\n`, new RegExp(`config\\.yaml:${lines}: YAML tag !!set is not supported`));
    fails(`${GOOD}catalog: !custom 1\n`, new RegExp(`config\\.yaml:${lines}: YAML tag !custom is not supported`));
    // Core tags are still plain data.
    assert.equal(loadConfigFile(write(GOOD.replace('usdPerHour: 2.5', 'usdPerHour: !!float 2.5'))).config.budget.usdPerHour, 2.5);
  });

  it('names an alias with no anchor, with its line, and refuses an alias bomb, naming the file', () => {
    fails(`${GOOD}catalog: *nope\n`, new RegExp(`config\\.yaml:${GOOD.split('\n').length}: YAML error: alias \\*nope has no anchor &nope before it$`));
    const bomb = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 7 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`)].join('\n');
    fails(`${bomb}\n`, /config\.yaml: YAML error: its aliases expand too far/);
  });

  it('names an unknown scaling or routing policy with its line and the available ones', () => {
    const lines = GOOD.split('\n').length;
    const e = fails(`${GOOD}scaling:\n  policy: fast-frugl\n`, new RegExp(`config\\.yaml:${lines + 1}: scaling\\.policy: unknown scaling policy "fast-frugl" \\(available: .*fast-frugal.*\\)$`));
    assert.equal(e.details.path, 'scaling.policy');
    fails(`${GOOD}routing:\n  policy: hetero\n`, new RegExp(`config\\.yaml:${lines + 1}: routing\\.policy: unknown routing policy "hetero" \\(available: .*heterogeneity-aware.*\\)$`));
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  compare:\n    - fast-frugal\n    - nope\n`, new RegExp(`config\\.yaml:${lines + 5}: sim\\.compare\\[1\\]: unknown scaling policy "nope" \\(available: `));
    assert.throws(() => loadConfigObject({ budget: { usdPerHour: 1 }, classes: [{ name: 'a', model: 'rm2', slo: '1s' }], pools: [{ name: 'p', type: 'r5n.large' }], scaling: { policy: 'nope' } }), /<inline>: scaling\.policy: unknown scaling policy "nope"/);
  });

  it('refuses sim.duration beside sim.trace, pointing to sim.trace.duration', () => {
    fails(`${GOOD}sim:\n  trace: {path: t.csv}\n  duration: 1m\n`, new RegExp(`config\\.yaml:${GOOD.split('\n').length + 2}: sim\\.duration: goes with sim\\.rps; to replay part of the trace, set sim\\.trace\\.duration`));
  });

  it('refuses a policy sim.compare names twice (its runs would count twice in the report), naming the entry', () => {
    const lines = GOOD.split('\n').length;
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  compare:\n    - fast-frugal\n    - fast-frugal\n`, new RegExp(`config\\.yaml:${lines + 5}: sim\\.compare\\[1\\]: "fast-frugal" is named twice`));
  });

  it('names sim.compare, not a flag, when it lists no policy', () => {
    const lines = GOOD.split('\n').length;
    fails(`${GOOD}sim:\n  rps: 1\n  duration: 1m\n  compare: []\n`, new RegExp(`config\\.yaml:${lines + 3}: sim\\.compare: name at least one scaling policy`));
  });

  it('names a bad budget.schedule cron expression with its line', () => {
    const withSchedule = (expr: string) => GOOD.replace('  usdPerHour: 2.5\n', `  usdPerHour: 2.5\n  schedule:\n    - cron: "0 0 9 * * *"\n      usdPerHour: 3\n    - cron: "${expr}"\n      usdPerHour: 1\n`);
    const e = fails(withSchedule('bogus'), /config\.yaml:7: budget\.schedule\[1\]\.cron: "bogus" is not a cron expression/);
    assert.equal(e.details.path, 'budget.schedule[1].cron');
    fails(withSchedule('0 0 25 * * *'), /config\.yaml:7: budget\.schedule\[1\]\.cron: "0 0 25 \* \* \*" is not a cron expression/);
    assert.equal(loadConfigFile(write(withSchedule('0 0 18 * * 1-5'))).config.budget.schedule.length, 2);
  });

  it('names a bad scaling or routing option with the option’s line', () => {
    const lines = GOOD.split('\n').length;
    const e = fails(`${GOOD}scaling:\n  options:\n    headroom: 0.2\n    headrom: 0.3\n`, new RegExp(`config\\.yaml:${lines + 3}: scaling\\.options\\.headrom: not an option of fast-frugal`));
    assert.equal(e.details.path, 'scaling.options.headrom');
    fails(`${GOOD}scaling:\n  policy: static-mix\n  options:\n    mix:\n      g4dn.xlarge: -1\n`, new RegExp(`config\\.yaml:${lines + 3}: scaling\\.options\\.mix\\.g4dn\\.xlarge: expected a count`));
    // A type no pool has is never launched: the run would serve nothing.
    fails(`${GOOD}scaling:\n  policy: static-mix\n  options:\n    mix: {g4dn.xlarge: 1, m5.large: 2}\n`, new RegExp(`config\\.yaml:${lines + 3}: scaling\\.options\\.mix\\.m5\\.large: m5\\.large is not the type of any pool \\(the pools' types: g4dn\\.xlarge, r5n\\.large\\)$`));
    // A required option that is missing: the section's own line.
    fails(`${GOOD}scaling:\n  policy: static-mix\n`, new RegExp(`config\\.yaml:${lines}: scaling\\.options\\.mix: static-mix needs a map`));
    fails(`${GOOD}routing:\n  policy: heterogeneity-aware\n  options:\n    largeFraction: -1\n`, new RegExp(`config\\.yaml:${lines + 3}: routing\\.options\\.largeFraction: expected a positive number`));
  });

  describe('router.backends', () => {
    const lines = GOOD.split('\n').length;
    const withBackends = (...entries: string[]) => `${GOOD}router:\n  backends:\n${entries.map((e) => `    - ${e}\n`).join('')}`;
    const at = (i: number, field: string) => `config\\.yaml:${lines + 2 + i}: router\\.backends\\[${i}\\]\\.${field}: `;

    it('refuses a type that is not in the catalog, with a suggestion', () => {
      const e = fails(withBackends('{url: "http://10.0.0.1:8000", type: r5n.largee}'), new RegExp(`${at(0, 'type')}unknown instance type "r5n\\.largee" \\(did you mean "r5n\\.large"`));
      assert.equal(e.details.path, 'router.backends[0].type');
    });

    it('refuses the same backend twice, by url or by id', () => {
      fails(withBackends('{url: "http://10.0.0.1:8000", type: g4dn.xlarge}', '{url: "http://10.0.0.1:8000/", type: g4dn.xlarge}'), new RegExp(`${at(1, 'url')}http://10\\.0\\.0\\.1:8000 is already router\\.backends\\[0\\]`));
      fails(withBackends('{id: a, url: "http://10.0.0.1:8000", type: g4dn.xlarge}', '{id: b, url: "http://10.0.0.1:8000/v2", type: g4dn.xlarge}'), new RegExp(`${at(1, 'url')}http://10\\.0\\.0\\.1:8000 is already`));
      fails(withBackends('{id: a, url: "http://10.0.0.1:8000", type: g4dn.xlarge}', '{id: a, url: "http://10.0.0.2:8000", type: g4dn.xlarge}'), new RegExp(`${at(1, 'id')}duplicate backend id "a" \\(router\\.backends\\[0\\] has it\\)`));
      fails(withBackends('{url: "http://10.0.0.1:8000", type: g4dn.xlarge}', '{id: "10.0.0.1:8000", url: "http://10.0.0.2:8000", type: g4dn.xlarge}'), new RegExp(`${at(1, 'id')}duplicate backend id "10\\.0\\.0\\.1:8000"`));
    });

    it('refuses a blank id', () => {
      fails(withBackends('{id: "  ", url: "http://10.0.0.1:8000", type: g4dn.xlarge}'), new RegExp(`${at(0, 'id')}expected a non-empty string`));
    });

    it('refuses a url the router cannot proxy to', () => {
      fails(withBackends('{url: "https://10.0.0.1:8000", type: g4dn.xlarge}'), new RegExp(`${at(0, 'url')}only http:// backends are supported`));
    });

    it('puts every backend in a config pool: no pool is invented for a type no pool has', () => {
      const { config } = loadConfigFile(write(withBackends('{url: "http://10.0.0.1:8000", type: g4dn.xlarge}', '{id: b, url: "http://10.0.0.2:8000", type: r5n.large, pool: frugal}')));
      assert.equal(config.router!.backends.length, 2);
      fails(withBackends('{url: "http://10.0.0.1:8000", type: c5n.2xlarge}'), new RegExp(`${at(0, 'type')}no pool has type c5n\\.2xlarge \\(pools: fast g4dn\\.xlarge, frugal r5n\\.large\\)`));
      fails(withBackends('{url: "http://10.0.0.1:8000", type: g4dn.xlarge, pool: gpu}'), new RegExp(`${at(0, 'pool')}no pool named "gpu"; pools: fast, frugal`));
      fails(withBackends('{url: "http://10.0.0.1:8000", type: g4dn.xlarge, pool: frugal}'), new RegExp(`${at(0, 'type')}g4dn\\.xlarge is not the type of pool "frugal" \\(r5n\\.large\\)`));
      const twoGpuPools = GOOD.replace('  - name: frugal\n', '  - name: fast2\n    type: g4dn.xlarge\n  - name: frugal\n');
      fails(`${twoGpuPools}router:\n  backends:\n    - {url: "http://10.0.0.1:8000", type: g4dn.xlarge}\n`, /router\.backends\[0\]\.type: pools "fast", "fast2" all have type g4dn\.xlarge; set router\.backends\[0\]\.pool/);
      assert.equal(loadConfigFile(write(`${twoGpuPools}router:\n  backends:\n    - {url: "http://10.0.0.1:8000", type: g4dn.xlarge, pool: fast2}\n`)).config.router!.backends[0]!.pool, 'fast2');
    });
  });

  it('takes node.edge.percentile in (0, 1] like node edge --percentile (1: plan with the largest stage time)', () => {
    assert.equal(loadConfigFile(write(`${GOOD}node:\n  edge:\n    percentile: 1\n`)).config.node!.edge.percentile, 1);
    fails(`${GOOD}node:\n  edge:\n    percentile: 0\n`, /node\.edge\.percentile: /);
    fails(`${GOOD}node:\n  edge:\n    percentile: 1.5\n`, /node\.edge\.percentile: /);
  });

  it('says when the file does not exist', () => {
    assert.throws(() => loadConfigFile(join(tmpdir(), 'nope', 'missing.yaml')), /cannot read config .*no such file/);
  });

  it('validates objects the same way as files', () => {
    assert.throws(() => loadConfigObject({ budget: { usdPerHour: 1 }, classes: [], pools: [] }), /classes: /);
  });
});
