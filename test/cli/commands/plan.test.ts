import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCheck, parseSizeDist, parseSweep } from '../../../src/cli/commands/plan.ts';
import { isMixscaleError } from '../../../src/core/errors.ts';
import { runCli } from '../../support/cli.ts';

const CONFIG = 'sim/scenarios/default.yaml';

/** `mixscale plan ARGS` on Kairos' four types at $2.5/h, with `extra` YAML added to the config. */
function planKairos(extra: string, args: string[]): ReturnType<typeof runCli> {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-plan-'));
  try {
    const config = join(dir, 'kairos.yaml');
    writeFileSync(
      config,
      `budget: { usdPerHour: 2.5 }
classes: [{ name: rm2, model: rm2, slo: 350ms }]
pools: [{ name: gpu, type: g4dn.xlarge }, { name: c5n, type: c5n.2xlarge }, { name: r5n, type: r5n.large }, { name: t3, type: t3.xlarge }]
${extra}
`,
    );
    return runCli(['plan', '--config', config, ...args]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('mixscale plan', () => {
  it('prints the chosen mix, its $/h, predicted percentiles, the highest load within SLO and the runners-up', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '80']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Best mix: .*×r5n\.large.*\(\$\d\.\d\d\/h; exact search/);
    assert.match(r.stdout, /rm2\s+350ms\s+\d+ms\s+\d+ms/);
    assert.match(r.stdout, /Highest load this budget holds within SLO: \d+\.\d rps/);
    assert.match(r.stdout, /Runners-up:/);
  });

  it('answers in JSON with maxRpsWithinSlo and runners-up, and more budget holds more load', () => {
    const at = (budget: string) => {
      const r = runCli(['plan', '--config', CONFIG, '--rps', '40', '--budget', budget, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { budgetUsdPerHour: number; maxRpsWithinSlo: number; plan: { usdPerHour: number; mix: Record<string, number> }; runnersUp: unknown[] };
    };
    const small = at('2.5');
    const big = at('4');
    assert.ok(small.plan.usdPerHour <= 2.5);
    assert.ok(small.runnersUp.length > 0);
    assert.ok(big.maxRpsWithinSlo > 1.3 * small.maxRpsWithinSlo, `${small.maxRpsWithinSlo} → ${big.maxRpsWithinSlo}`);
  });

  it('rounds the floats of its JSON: $/h, ms and fractions to at most 6 significant digits and 6 decimals', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '80', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const floats = r.stdout.match(/-?\d+\.\d+(e[+-]?\d+)?/g) ?? [];
    assert.ok(floats.length > 10, r.stdout);
    for (const f of floats) assert.ok(/^-?\d+\.\d{1,6}$/.test(f) && f.replace(/^-?0\.0*|\./g, '').length <= 6, `${f} in ${r.stdout}`);
  });

  it("reports the shared queue's figure behind a late-binding router, and not for one that binds at arrival", () => {
    type Out = { maxRpsWithinSlo: number; plan: { mix: Record<string, number>; meetsSlo: boolean; sharedQueue?: Record<string, number> } };
    const late = runCli(['plan', '--config', CONFIG, '--rps', '130']);
    assert.equal(late.code, 0, late.stderr);
    assert.match(late.stdout, /With late binding \(one queue for every slot\): rm2 99\.\d\d% within SLO/);
    assert.match(late.stdout, /Why: SLO met only with late binding's shared queue/);
    const lateJson = JSON.parse(runCli(['plan', '--config', CONFIG, '--rps', '130', '--json']).stdout) as Out;
    assert.equal(lateJson.plan.meetsSlo, true);
    assert.ok(lateJson.plan.sharedQueue!['rm2']! >= 0.99);
    const r = planKairos('routing: { policy: heterogeneity-aware, lateBinding: false }', ['--rps', '130', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const atArrival = JSON.parse(r.stdout) as Out;
    assert.equal(atArrival.plan.meetsSlo, false);
    assert.equal(atArrival.plan.sharedQueue, undefined);
    assert.ok(atArrival.maxRpsWithinSlo < lateJson.maxRpsWithinSlo / 1.15, `${atArrival.maxRpsWithinSlo} vs ${lateJson.maxRpsWithinSlo}`);
  });

  it("plans with the configured fast-frugal's options: tailSlack picks the mix with most capacity, 0 the lowest tail; a sweep shows the lowest tail", () => {
    type Out = { plan: { mix: Record<string, number>; reason: string; predicted: { rm2: { p99Ms: number } } } };
    const roomy = JSON.parse(runCli(['plan', '--config', CONFIG, '--rps', '10', '--json']).stdout) as Out;
    assert.match(roomy.plan.reason, /^most capacity within 10% of the lowest predicted tail/);
    const r = planKairos('scaling: { policy: fast-frugal, options: { tailSlack: 0 } }', ['--rps', '10', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lowest = JSON.parse(r.stdout) as Out;
    assert.notDeepEqual(lowest.plan.mix, roomy.plan.mix);
    assert.ok(lowest.plan.predicted.rm2.p99Ms < roomy.plan.predicted.rm2.p99Ms);
    assert.doesNotMatch(lowest.plan.reason, /most capacity/);
    const sweep = JSON.parse(runCli(['plan', '--config', CONFIG, '--rps', '10', '--budget-sweep', '2.5:2.5:1', '--json']).stdout) as { sweep: Array<{ mix: Record<string, number> }> };
    assert.notDeepEqual(sweep.sweep[0]!.mix, roomy.plan.mix);
  });

  it('sweeps budgets into a budget → p99 and max-load curve', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '30', '--budget-sweep', '1:2:0.5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sweep = (JSON.parse(r.stdout) as { sweep: Array<{ budgetUsdPerHour: number; maxRpsWithinSlo: number }> }).sweep;
    assert.deepEqual(sweep.map((s) => s.budgetUsdPerHour), [1, 1.5, 2]);
    assert.ok(sweep[2]!.maxRpsWithinSlo > sweep[0]!.maxRpsWithinSlo);
  });

  it("marks a sweep row planned on the shared queue's word, where the per-pool figures it shows miss the SLO", () => {
    // At $2/h and 80 rps: 1×g4dn + 9×r5n, per-pool p99 390 ms (over 350), which late binding's shared queue meets.
    const r = runCli(['plan', '--config', CONFIG, '--rps', '80', '--budget-sweep', '2:2.5:0.5']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.split('\n');
    assert.match(rows.find((l) => /^\s+2\.00 /.test(l))!, /\s3\d\dms\s+\d+\.\d+% \(\d+\.\d+% shared queue\)\s/);
    assert.doesNotMatch(rows.find((l) => /^\s+2\.50 /.test(l))!, /shared queue/);
    assert.match(r.stdout, /\n\(… shared queue\): the per-pool model says that mix misses the SLO; late binding's shared queue says it meets it/);
    const json = JSON.parse(runCli(['plan', '--config', CONFIG, '--rps', '80', '--budget-sweep', '2:2.5:0.5', '--json']).stdout) as { sweep: Array<{ sharedQueue?: Record<string, number> }> };
    assert.ok(json.sweep[0]!.sharedQueue!.rm2! >= 0.99);
    assert.equal(json.sweep[1]!.sharedQueue, undefined);
  });

  it('exits 2 with one line naming the flag on a bad size distribution or a missing --rps', () => {
    const bad = runCli(['plan', '--config', CONFIG, '--rps', '10', '--size-dist', 'zipf:2']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^mixscale: --size-dist: "zipf:2"/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    const missing = runCli(['plan', '--config', CONFIG]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--rps/);
  });

  it('checks a JSON size distribution as sim.sizes is checked, naming the field', () => {
    for (const [spec, field] of [
      ['{"kind":"bogus"}', /kind/],
      ['{"kind":"mixture","components":[]}', /components/],
      ['{"kind":"fixed"}', /size/],
      ['{"kind":"fixed","size":-3}', /size/],
      ['{"kind":"uniform","min":"a","max":3}', /min/],
    ] as const) {
      const r = runCli(['plan', '--config', CONFIG, '--rps', '10', '--size-dist', spec]);
      assert.equal(r.code, 2, `${spec}: ${r.stderr}`);
      assert.match(r.stderr, /^mixscale: --size-dist: /);
      assert.match(r.stderr, field);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  it('refuses sizes above every profile, and warns when only some are', () => {
    const all = runCli(['plan', '--config', CONFIG, '--rps', '10', '--size-dist', 'fixed:5000']);
    assert.equal(all.code, 2);
    assert.match(all.stderr, /--size-dist: every request size is above 1000, the largest size rm2 is profiled for/);
    const some = runCli(['plan', '--config', CONFIG, '--rps', '10', '--size-dist', 'uniform:500:1500']);
    assert.equal(some.code, 0, some.stderr);
    assert.match(some.stderr, /warning: \d+\.\d% of the request sizes \(--size-dist, used for every class\) are above 1000/);
    assert.match(some.stdout, /Why: SLO not attainable .*% of requests have a size or model no pool of the mix serves/);
    assert.doesNotMatch(some.stdout, /With late binding/, 'the shared queue does not vouch for requests nobody serves');
  });

  it('shows budgets that buy nothing as rows of a sweep, and refuses --budget with --budget-sweep', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '30', '--budget-sweep', '0.1:0.3:0.2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const sweep = (JSON.parse(r.stdout) as { sweep: Array<{ budgetUsdPerHour: number; mix: Record<string, number> | null; infeasible?: string }> }).sweep;
    assert.equal(sweep[0]!.mix, null);
    assert.match(sweep[0]!.infeasible!, /no mix .* fits \$0\.10\/h/);
    assert.deepEqual(sweep[1]!.mix, { 'r5n.large': 2 });
    assert.match(runCli(['plan', '--config', CONFIG, '--rps', '30', '--budget-sweep', '0.1:0.3:0.2']).stdout, /0\.10\s+nothing fits/);
    const both = runCli(['plan', '--config', CONFIG, '--rps', '30', '--budget', '3', '--budget-sweep', '1:2:1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--budget and --budget-sweep/);
  });

  it('never prints a simulated share within SLO below 1 as 100.00% (--check): a mix that dropped a request gets the decimals it needs', () => {
    // 15 simulated min at 35 rps: about 31,700 requests per mix, one mix drops a single one.
    const r = runCli(['plan', '--config', CONFIG, '--rps', '35', '--check', '15']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((l) => / rm2 +\d+ms +\d+ms +\d+ +/.test(l));
    assert.equal(rows.length, 4, r.stdout);
    const missed = rows.filter((l) => Number(/ms +(\d+) +/.exec(l.split(' rm2 ')[1]!)![1]) > 0);
    assert.ok(missed.length > 0, r.stdout);
    for (const row of missed) assert.doesNotMatch(row, /100\.00%$/, row);
  });

  it('checks the chosen mix and the runners-up against a short simulation when asked (--check)', () => {
    const r = runCli(['plan', '--config', CONFIG, '--rps', '80', '--check', '1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      plan: { mix: Record<string, number> };
      runnersUp: Array<{ mix: Record<string, number> }>;
      check: { simulatedMs: number; routing: string; mixes: Array<{ mix: Record<string, number>; perClass: Record<string, { p99Ms: number; attainment: number }> }>; bestMix: Record<string, number> };
    };
    assert.equal(out.check.simulatedMs, 60_000);
    assert.equal(out.check.routing, 'heterogeneity-aware');
    assert.deepEqual(out.check.mixes.map((m) => m.mix), [out.plan.mix, ...out.runnersUp.map((x) => x.mix)]);
    for (const m of out.check.mixes) {
      assert.ok(m.perClass['rm2']!.p99Ms > 0 && m.perClass['rm2']!.attainment > 0.9, JSON.stringify(m));
    }
    assert.ok(out.check.mixes.some((m) => JSON.stringify(m.mix) === JSON.stringify(out.check.bestMix)));
    // Progress on stderr, one line per mix.
    assert.equal(r.stderr.match(/plan: simulating .* for 1 min/g)?.length, out.check.mixes.length, r.stderr);
    const text = runCli(['plan', '--config', CONFIG, '--rps', '40', '--check', '0.5']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /Checked by simulation \(0\.5 simulated min per mix, fixed warm fleet, heterogeneity-aware routing with late binding/);
    assert.match(text.stdout, /p99 simulated \(served\)\s+dropped/);
    assert.match(text.stdout, /rm2\s+\d+ms\s+\d+ms\s+\d+\s+\d+\.\d\d%\s+\d+\.\d\d%/);
    assert.match(text.stdout, /The simulation (agrees|ranks)/);
    // Without --check, nothing is simulated.
    const plain = runCli(['plan', '--config', CONFIG, '--rps', '10', '--json']);
    assert.equal((JSON.parse(plain.stdout) as { check?: unknown }).check, undefined);
  });

  it('refuses a --check that is not a positive number of minutes, or one beside --budget-sweep', () => {
    assert.equal(parseCheck(undefined), undefined);
    assert.equal(parseCheck(true), 600_000);
    assert.equal(parseCheck('2.5'), 150_000);
    for (const bad of ['0', '-1', 'ten', '1e9']) {
      const r = runCli(['plan', '--config', CONFIG, '--rps', '10', `--check=${bad}`]);
      assert.equal(r.code, 2, bad);
      assert.equal(r.stderr, `mixscale: --check: expected simulated minutes in (0, 240], got "${bad}"\n`);
    }
    // Too few requests for a tail: refused before anything runs, naming both flags.
    const short = runCli(['plan', '--config', CONFIG, '--rps', '0.01', '--check', '0.5']);
    assert.equal(short.code, 2);
    assert.equal(short.stderr, 'mixscale: --check: 0.5 simulated min at --rps 0.01 is about 0 requests per mix; a p99 needs at least 1000: check for longer\n');
    // With several classes, the smallest one's count decides.
    const mixed = runCli(['plan', '--config', 'examples/mixed.yaml', '--rps', '3', '--check', '1']);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /^mixscale: --check: 1 simulated min at --rps 3 class rec gets about 90 requests per mix/);
    const sweep = runCli(['plan', '--config', CONFIG, '--rps', '10', '--check', '--budget-sweep', '1:2:1']);
    assert.equal(sweep.code, 2);
    assert.match(sweep.stderr, /--check checks one plan; it does not go with --budget-sweep/);
  });

  it('checks --json FILE before planning: a directory or a missing folder is one line naming the flag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-plan-'));
    try {
      const isDir = runCli(['plan', '--config', CONFIG, '--rps', '10', '--json', dir]);
      assert.equal(isDir.code, 2);
      assert.equal(isDir.stderr, `mixscale: --json: cannot write ${dir}: is a directory\n`);
      const missing = runCli(['plan', '--config', CONFIG, '--rps', '10', `--json=${join(dir, 'nope', 'p.json')}`]);
      assert.equal(missing.code, 2);
      assert.equal(missing.stderr, `mixscale: --json: cannot write ${join(dir, 'nope', 'p.json')}: folder ${join(dir, 'nope')} does not exist\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('plans a config whose classes serve different models with one size distribution, warning for the model it misses', () => {
    const r = runCli(['plan', '--config', 'examples/mixed.yaml', '--rps', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: 100\.0% of the request sizes \(sim\.sizes, used for every class\) are above 8, the largest size digits-cnn is profiled for/);
    assert.match(r.stdout, /\nrec\s+350ms\s+\d+ms\s+\d+ms/);
  });

  it('shows a p99 and a within-SLO column per class for the runners-up, each named by its class', () => {
    const r = runCli(['plan', '--config', 'examples/mixed.yaml', '--rps', '20']);
    assert.equal(r.code, 0, r.stderr);
    const table = r.stdout.split('Runners-up:\n')[1] ?? '';
    assert.match(table, /^mix +\$\/h  p99 rec  within SLO rec  p99 digits  within SLO digits\n/);
    const row = table.split('\n')[2] ?? '';
    assert.match(row, /\d+ms +\d+\.\d\d% +(\d+ms|∞) +\d+\.\d\d%$/);
  });

  it('shows a p99 and an attainment column per class in a budget sweep, and names every SLO', () => {
    const r = runCli(['plan', '--config', 'examples/mixed.yaml', '--rps', '20', '--size-dist', 'fixed:4', '--budget-sweep', '0.1:1:0.9']);
    assert.equal(r.code, 0, r.stderr);
    const [title, head, , none, row] = r.stdout.split('\n');
    assert.equal(title, 'What each budget buys at 20 rps (sizes: fixed); SLOs: rec 350 ms at p99, digits 200 ms at p99:');
    assert.match(head!, /^\$\/h budget +best mix +\$\/h used  p99 rec  attainment rec  p99 digits  attainment digits  max rps within SLO$/);
    assert.match(none!, /^ +0\.10 +nothing fits +- +- +- +- +- +0\.0$/);
    assert.match(row!, /^ +1\.00 +\S.* +\d+\.\d\d +\d+ms +\d+\.\d\d% +\d+ms +\d+\.\d\d% +\d+\.\d$/);
  });

  it('says a class no pool of the mix serves gets none of the traffic, rather than leaving its split blank', () => {
    const r = runCli(['plan', '--config', 'examples/mixed.yaml', '--rps', '20']);
    assert.equal(r.code, 0, r.stderr);
    const split = r.stdout.split('\n').find((l) => l.startsWith('Traffic split: '));
    assert.ok(split !== undefined, r.stdout);
    assert.match(split, /digits: none served/);
    assert.doesNotMatch(split, /: (;|$)/);
  });

  it('checks the short size forms by the same rules as sim.sizes, and a sweep STEP too small to count', () => {
    const usage = (fn: () => unknown, pattern: RegExp): void => {
      assert.throws(fn, (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_USAGE' && pattern.test(e.message));
    };
    assert.deepEqual(parseSizeDist('uniform:2:4'), { kind: 'uniform', min: 2, max: 4 });
    usage(() => parseSizeDist('uniform:1.5:3.5'), /^--size-dist: min: must be a whole number \(in uniform:1\.5:3\.5\)$/);
    usage(() => parseSizeDist('fixed:0x10'), /^--size-dist: "fixed:0x10" is not a size distribution/);
    usage(() => parseSizeDist('{"kind":"lognormal","mu":5,"sigma":1,"min":900,"max":10}'), /^--size-dist: min: must be ≤ max/);
    usage(() => parseSweep('1:10:1e-320'), /^--budget-sweep: far more than 200 budgets from \$1 to \$10\/h in steps of \$1e-320; at most 200: use a larger STEP$/);
    usage(() => parseSweep('1:10:0x1'), /^--budget-sweep: expected LO:HI:STEP/);
  });
});
