import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimReport } from '../../../sim/result.ts';
import { runCli } from '../../support/cli.ts';

const SMALL = `budget:
  usdPerHour: 2.5
classes:
  - { name: rm2, model: rm2, slo: 350ms }
pools:
  - { name: gpu, type: g4dn.xlarge }
  - { name: r5n, type: r5n.large }
scaling:
  policy: homogeneous-cheap
routing:
  policy: least-outstanding
sim:
  rps: 20
  duration: 5m
  compare: [homogeneous-fast, homogeneous-cheap, target-tracking]
`;

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'mixscale-sim-cli-'));
}

function config(text = SMALL): string {
  const p = join(dir(), 'scenario.yaml');
  writeFileSync(p, text);
  return p;
}

describe('mixscale sim', () => {
  it('compares the configured policies and writes the JSON and HTML reports', () => {
    const out = dir();
    const json = join(out, 'runs.json');
    const html = join(out, 'report.html');
    const r = runCli(['--config', config(), 'sim', '--json', json, '--html', html, '--seed', '3']);
    assert.equal(r.code, 0, r.stderr);
    for (const p of ['homogeneous-fast', 'homogeneous-cheap', 'target-tracking']) assert.match(r.stdout, new RegExp(`\\n${p}\\s+least-outstanding\\s+\\d+`));
    const report = JSON.parse(readFileSync(json, 'utf8')) as SimReport;
    assert.equal(report.runs.length, 3);
    assert.equal(report.scenario.seed, 3);
    const run = report.runs[0]!;
    for (const k of ['p50', 'p90', 'p99', 'p999', 'max']) assert.equal(typeof (run.latencyMs as unknown as Record<string, number>)[k], 'number');
    assert.equal(run.requests.total, run.requests.completed + run.requests.dropped + run.requests.inFlight);
    assert.ok(run.perClass.rm2 !== undefined);
    assert.equal(run.cost.budgetUsdPerHour, 2.5);
    const page = readFileSync(html, 'utf8');
    assert.ok((page.match(/<svg/g) ?? []).length >= 5, 'the plots are inline SVG');
    assert.doesNotMatch(page, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no scripts, nothing fetched');
  });

  it('names sim.trace.peakRps or --peak-rps, in one line, when the peak would repeat each request past reason', () => {
    const d = dir();
    const trace = join(d, 'three.csv');
    writeFileSync(trace, 't_ms\n0\n100\n200\n');
    const cfg = config(SMALL.replace(/\n  rps: 20\n  duration: 5m\n/, `\n  trace: { path: ${JSON.stringify(trace)}, peakRps: 1e12 }\n`));
    for (const [args, name] of [[[], `${cfg}: sim.trace.peakRps`], [['--trace', trace, '--peak-rps', '1e10'], '--peak-rps']] as const) {
      const r = runCli(['--config', cfg, 'sim', '--quiet', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.startsWith(`mixscale: ${name}: `), r.stderr);
      assert.match(r.stderr, /would send each request of .* times .*at most 10,000× its peak\n$/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });

  it('writes the JSON document to stdout with --json and no file', () => {
    const r = runCli(['--config', config(), 'sim', '--json', '--compare', 'homogeneous-cheap']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SimReport;
    assert.deepEqual(report.runs.map((x) => x.policy), ['homogeneous-cheap']);
  });

  it('runs the bundled scenario without --config and writes report.html in the working directory', function () {
    this.timeout(120_000);
    const cwd = dir();
    // A one-hour window of the day keeps the test short; the scenario is otherwise untouched.
    const shown = runCli(['sim', '--duration', '1h'], { cwd, timeoutMs: 110_000 });
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(existsSync(join(cwd, 'report.html')));
    assert.match(shown.stdout, /wrote report\.html/);
    const rows = shown.stdout.split('\n').filter((l) => /\s(least-outstanding|heterogeneity-aware|round-robin|p2c|shortest-expected-delay|size-split)\s/.test(l));
    assert.ok(rows.length >= 3, `at least three policies compared:\n${shown.stdout}`);
  });

  it('gives the same runs on worker threads as one after another', () => {
    const cfg = config();
    const runs = (jobs: string): string => {
      const r = runCli(['--config', cfg, 'sim', '--json', '--jobs', jobs, '--seed', '4']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.stringify(JSON.parse(r.stdout), (k, v: unknown) => (k === 'wallClockMs' || k === 'simulatedRequestsPerSecond' ? 0 : v));
    };
    assert.equal(runs('3'), runs('1'));
  });

  it('checks every policy --compare and --routing name before any run, naming the flag in one line (exit 2)', () => {
    const r = runCli(['--config', config(), 'sim', '--compare', 'homogeneous-cheap,homogenous-fast', '--jobs', '1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mixscale: --compare: unknown scaling policy "homogenous-fast"; available: .*homogeneous-fast.*\n$/);
    assert.equal(r.stdout, '', 'nothing was simulated');
    const twice = runCli(['--config', config(), 'sim', '--compare', 'homogeneous-cheap,homogeneous-fast, homogeneous-cheap']);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /^mixscale: --compare: "homogeneous-cheap" is named twice; name each scaling policy once\n$/);
    assert.equal(twice.stdout, '', 'nothing was simulated');
    const routing = runCli(['--config', config(), 'sim', '--compare', 'homogeneous-cheap', '--routing', 'nope']);
    assert.equal(routing.code, 2);
    assert.match(routing.stderr, /^mixscale: --routing: unknown routing policy "nope"; available: .*least-outstanding.*\n$/);
  });

  it('names the trace file and line of a bad row and exits 2', () => {
    const trace = join(dir(), 'bad.csv');
    writeFileSync(trace, 't_ms\n0\n5\nsoon\n');
    const r = runCli(['--config', config(), 'sim', '--trace', trace, '--quiet']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.csv:4: t_ms "soon"/);
  });

  it('skips bad rows when asked', () => {
    const trace = join(dir(), 'bad.csv');
    writeFileSync(trace, `t_ms\n${Array.from({ length: 200 }, (_, i) => String(i * 100)).join('\n')}\nsoon\n`);
    const r = runCli(['--config', config(), 'sim', '--json', '--trace', trace, '--skip-bad-rows', '--compare', 'homogeneous-cheap']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as SimReport;
    assert.equal(report.runs[0]!.trace.skippedRows, 1);
    assert.equal(report.runs[0]!.requests.total, 200);
  });

  it('checks --json and --html before the run: a directory or a missing folder is one line naming the flag', () => {
    const out = dir();
    const json = runCli(['--config', config(), 'sim', '--json', out, '--compare', 'homogeneous-cheap']);
    assert.equal(json.code, 2, json.stderr);
    assert.equal(json.stderr, `mixscale: --json: cannot write ${out}: is a directory\n`);
    assert.equal(json.stdout, '', 'nothing was simulated');
    const html = runCli(['--config', config(), 'sim', '--html', join(out, 'nope', 'r.html'), '--compare', 'homogeneous-cheap']);
    assert.equal(html.code, 2, html.stderr);
    assert.equal(html.stderr, `mixscale: --html: cannot write ${join(out, 'nope', 'r.html')}: folder ${join(out, 'nope')} does not exist\n`);
  });

  it('refuses --json and --html naming one file (one report would overwrite the other), before the run', () => {
    const out = dir();
    const both = join(out, 'r.out');
    const r = runCli(['--config', config(), 'sim', '--json', both, '--html', join(out, '.', 'r.out'), '--compare', 'homogeneous-cheap']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr, `mixscale: --json, --html: both name ${both}; give each report its own file\n`);
    assert.equal(r.stdout, '', 'nothing was simulated');
    assert.ok(!existsSync(both));
    // Without --config the HTML goes to report.html by default: --json report.html would take its place.
    const cwd = dir();
    const dflt = runCli(['sim', '--json', 'report.html', '--duration', '1m'], { cwd });
    assert.equal(dflt.code, 2, dflt.stderr);
    assert.equal(dflt.stderr, 'mixscale: --json, the default --html (report.html): both name report.html; give each report its own file\n');
  });

  it('a final write that fails is one line, after the summary and the other report', function () {
    if (!existsSync('/dev/full')) this.skip();
    const html = join(dir(), 'r.html');
    const r = runCli(['--config', config(), 'sim', '--json', '/dev/full', '--html', html, '--compare', 'homogeneous-cheap']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'mixscale: --json: cannot write /dev/full: no space left on device\n');
    assert.match(r.stdout, /homogeneous-cheap\s+least-outstanding/);
    assert.match(r.stdout, /wrote .*r\.html/);
    assert.ok(existsSync(html));
  });

  it('names a folder given as the trace (flag or config) in one line and exits 2', () => {
    const folder = dir();
    const flag = runCli(['--config', config(), 'sim', '--trace', folder, '--quiet']);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, `mixscale: cannot read trace ${folder}: is a directory\n`);
    const fromConfig = runCli(['--config', config(SMALL.replace(/  rps: 20\n  duration: 5m\n/, `  trace: { path: ${JSON.stringify(folder)} }\n`)), 'sim', '--quiet']);
    assert.equal(fromConfig.code, 2);
    assert.equal(fromConfig.stderr, `mixscale: cannot read trace ${folder}: is a directory\n`);
  });

  it('refuses a zero --duration, as sim.trace.duration and load --duration do', () => {
    const r = runCli(['--config', 'sim/scenarios/step.yaml', 'sim', '--duration', '0', '--quiet']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'mixscale: --duration: expected a duration above zero, got "0"\n');
  });

  it('names --start, or the config field, when the window starts past the end of the trace', () => {
    const folder = dir();
    const trace = join(folder, 'short.csv');
    writeFileSync(trace, 't_ms\n0\n500\n1000\n');
    const flag = runCli(['--config', config(), 'sim', '--trace', trace, '--start', '99h', '--quiet']);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, 'mixscale: --start: no arrivals in the chosen window: it starts at 99h, past the end of short.csv (1s)\n');
    const cfg = config(SMALL.replace(/  rps: 20\n  duration: 5m\n/, `  trace: { path: ${JSON.stringify(trace)}, start: 2h }\n`));
    const field = runCli(['--config', cfg, 'sim', '--quiet']);
    assert.equal(field.code, 2);
    assert.equal(field.stderr, `mixscale: ${cfg}: sim.trace.start: no arrivals in the chosen window: it starts at 2h, past the end of short.csv (1s)\n`);
  });

  it('refuses a trace or a window with no arrivals, naming the trace and the flags or fields that cut the window', () => {
    const folder = dir();
    const trace = join(folder, 'short.csv');
    writeFileSync(trace, 't_ms\n0\n100\n300\n');
    const flags = runCli(['--config', config(), 'sim', '--trace', trace, '--start', '150ms', '--duration', '100ms', '--compare', 'homogeneous-cheap']);
    assert.equal(flags.code, 2);
    assert.equal(flags.stderr, 'mixscale: --start, --duration: no arrivals in the chosen window of short.csv: nothing to simulate\n');
    assert.equal(flags.stdout, '');
    // The same with --peak-rps (or sim.trace.peakRps), which has nothing to rescale.
    const peak = runCli(['--config', config(), 'sim', '--trace', trace, '--peak-rps', '50', '--start', '150ms', '--duration', '100ms', '--compare', 'homogeneous-cheap']);
    assert.equal(peak.code, 2);
    assert.equal(peak.stderr, 'mixscale: --start, --duration: no arrivals in the chosen window of short.csv: nothing to simulate\n');
    const header = join(folder, 'header.csv');
    writeFileSync(header, 't_ms,size\n');
    const cfg = config(SMALL.replace(/  rps: 20\n  duration: 5m\n/, `  trace: { path: ${JSON.stringify(header)} }\n`));
    const empty = runCli(['--config', cfg, 'sim', '--quiet', '--compare', 'homogeneous-cheap']);
    assert.equal(empty.code, 2);
    assert.equal(empty.stderr, `mixscale: trace ${header}: no arrivals: nothing to simulate\n`);
  });

  it('names --trace-model, or the config field, with the models the trace has when the chosen one is not there', () => {
    const folder = dir();
    const trace = join(folder, 'rate_model.csv');
    writeFileSync(trace, 't_s,model,rps\n0,rm2,5\n10,wnd,3\n20,rm2,5\n30,wnd,2\n');
    const flag = runCli(['--config', config(), 'sim', '--trace', trace, '--trace-model', 'nope', '--quiet']);
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, 'mixscale: --trace-model: "nope" is not in rate_model.csv (models: rm2, wnd)\n');
    const plain = join(folder, 'plain.csv');
    writeFileSync(plain, 't_ms\n0\n500\n');
    const none = runCli(['--config', config(), 'sim', '--trace', plain, '--trace-model', 'rm2', '--quiet']);
    assert.equal(none.code, 2);
    assert.equal(none.stderr, 'mixscale: --trace-model: "rm2" is not in plain.csv (it has no model column)\n');
    const cfg = config(SMALL.replace(/  rps: 20\n  duration: 5m\n/, `  trace: { path: ${JSON.stringify(trace)}, model: rm3 }\n`));
    const field = runCli(['--config', cfg, 'sim', '--quiet']);
    assert.equal(field.code, 2);
    assert.equal(field.stderr, `mixscale: ${cfg}: sim.trace.model: "rm3" is not in rate_model.csv (models: rm2, wnd)\n`);
  });

  it('says in the text summary how many bad rows --skip-bad-rows skipped', () => {
    const trace = join(dir(), 'bad.csv');
    writeFileSync(trace, `t_ms\n${Array.from({ length: 50 }, (_, i) => String(i * 100)).join('\n')}\nsoon\nlater\n`);
    const r = runCli(['--config', config(), 'sim', '--trace', trace, '--skip-bad-rows', '--compare', 'homogeneous-cheap']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nskipped 2 bad trace rows \(--skip-bad-rows/);
  });

  it('says how long the load runs in the summary, also for runs under a minute', () => {
    const r = runCli(['--config', config(SMALL.replace('duration: 5m', 'duration: 20s')), 'sim', '--compare', 'homogeneous-cheap']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\nload: constant 20 rps \(Poisson\) for 20s, seed 1\n/);
    const trace = join(dir(), 'short.csv');
    writeFileSync(trace, `t_ms\n${Array.from({ length: 100 }, (_, i) => String(i * 1000)).join('\n')}\n`);
    const cut = runCli(['--config', config(), 'sim', '--trace', trace, '--start', '30s', '--duration', '90s', '--compare', 'homogeneous-cheap']);
    assert.equal(cut.code, 0, cut.stderr);
    assert.match(cut.stdout, /\nload: short\.csv, from 30s, for 90s, seed 1\n/);
  });

  it('refuses --size-column, or sim.trace.sizeColumn, for a rate series, naming the flag or field in one line', () => {
    const flag = runCli(['--config', 'sim/scenarios/step.yaml', 'sim', '--size-column', 'foo', '--quiet', '--jobs', '1']);
    assert.equal(flag.code, 2, flag.stderr);
    assert.equal(flag.stderr, 'mixscale: --size-column: "foo": step-20-110-30.csv is a rate series (t_s), which has no size column; only a per-request trace (t_ms) takes one\n');
    const trace = join(dir(), 'rates.csv');
    writeFileSync(trace, 't_s,rps\n0,5\n60,5\n');
    const cfg = config(SMALL.replace(/  rps: 20\n  duration: 5m\n/, `  trace: { path: ${JSON.stringify(trace)}, sizeColumn: tokens }\n`));
    const field = runCli(['--config', cfg, 'sim', '--quiet']);
    assert.equal(field.code, 2, field.stderr);
    assert.equal(field.stderr, `mixscale: ${cfg}: sim.trace.sizeColumn: "tokens": rates.csv is a rate series (t_s), which has no size column; only a per-request trace (t_ms) takes one\n`);
  });

  it('refuses trace options without a trace', () => {
    const r = runCli(['--config', config(), 'sim', '--time-scale', '24']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /need a trace/);
  });
});
