import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigObject, type LoadedConfig } from '../../src/config/load.ts';
import { ConfigError, TraceError } from '../../src/core/errors.ts';
import { buildReport, reportJson } from '../../sim/report/json.ts';
import { runSimulation } from '../../sim/runner.ts';
import { kairosConfig } from '../control/kairos-setup.ts';

/** Kairos' four types under $2.5/h, rm2 at 350 ms p99, and a load that steps 20 → 90 → 30 rps. */
function scenario(sim: Record<string, unknown> = {}, scaling: Record<string, unknown> = {}): LoadedConfig {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-sim-'));
  writeFileSync(join(dir, 'step.csv'), 't_s,rps\n0,20\n300,90\n600,30\n');
  return loadConfigObject(
    {
      ...kairosConfig,
      scaling: { policy: 'target-tracking', interval: '30s', ...scaling },
      routing: { policy: 'least-outstanding' },
      sim: { trace: { path: 'step.csv' }, window: '1m', ...sim },
    },
    dir,
  );
}

/** One GPU under size-10 queries (5.4 ms alone; a batch of 10 is one size-100 query, 29 ms) at 250 rps. */
function gpuOnly(batchMaxSize: number, lateBinding: boolean): LoadedConfig {
  return loadConfigObject({
    budget: { usdPerHour: 1 },
    classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
    pools: [{ name: 'gpu', type: 'g4dn.xlarge' }],
    scaling: { policy: 'static-mix', options: { mix: { 'g4dn.xlarge': 1 } } },
    routing: { policy: 'least-outstanding', lateBinding },
    sim: { rps: 250, duration: '2m', sizes: { kind: 'fixed', size: 10 }, batchMaxSize, maxOutstandingPerSlot: 200 },
  });
}

describe('simulation runner', () => {
  it('gives identical JSON bytes for the same seed, and a different run for another seed', async () => {
    const loaded = scenario();
    const json = async (seed: number): Promise<string> => {
      const run = await runSimulation(loaded, { seed });
      return reportJson(buildReport(loaded, [run], { name: 'step', trace: 'step.csv', seed }), { timing: false });
    };
    const a = await json(5);
    const b = await json(5);
    assert.equal(a, b);
    assert.notEqual(await json(6), a);
  });

  it('accounts for every request: in = completed + dropped + in flight', async () => {
    for (const policy of ['homogeneous-fast', 'target-tracking']) {
      const run = await runSimulation(scenario(), { scalingPolicy: policy, seed: 2 });
      const r = run.requests;
      assert.equal(r.total, r.completed + r.dropped + r.inFlight, policy);
      assert.equal(r.dropped, Object.values(r.dropReasons).reduce((a, b) => a + b, 0));
      assert.ok(run.checks.conservation);
      assert.ok(r.total > 40_000, `${r.total} requests`);
      // The mean spend rate is a time-average of the rate, so no higher than its peak.
      assert.ok(run.cost.meanUsdPerHour <= run.cost.maxUsdPerHour + 1e-9, `${policy}: mean $${run.cost.meanUsdPerHour}/h, max $${run.cost.maxUsdPerHour}/h`);
    }
  });

  it("satisfies Little's law within 2%, also when overloaded and dropping", async () => {
    // homogeneous-fast (4 GPUs) is overloaded at 90 rps: long queues and drops.
    for (const policy of ['homogeneous-fast', 'target-tracking', 'homogeneous-cheap']) {
      const run = await runSimulation(scenario(), { scalingPolicy: policy, seed: 3 });
      assert.ok(run.checks.littleRelativeError < 0.02, `${policy}: L ${run.checks.littleL} vs λW ${run.checks.littleLambdaW}`);
      assert.ok(run.checks.littleL > 0);
    }
  });

  it('keeps every baseline within budget, pending instances included, even with capacity errors', async () => {
    const policies: Array<[string, Record<string, unknown>]> = [
      ['homogeneous-fast', {}],
      ['homogeneous-cheap', {}],
      ['static-mix', { mix: { 'g4dn.xlarge': 2, 'r5n.large': 12, 't3.xlarge': 3 } }],
      ['target-tracking', {}],
      ['target-tracking', { type: 'g4dn.xlarge', targetUtilization: 0.3 }],
    ];
    let spent = 0;
    for (const [policy, options] of policies) {
      const run = await runSimulation(scenario({ capacityErrorRate: 0.3 }, { policy, options }), { seed: 4 });
      assert.equal(run.cost.overBudgetSeconds, 0, policy);
      assert.ok(run.cost.maxUsdPerHour <= 2.5 + 1e-9, `${policy}: max ${run.cost.maxUsdPerHour} $/h`);
      spent += run.cost.totalUsd;
    }
    assert.ok(spent > 1, 'the fleets did run');
  });

  it('replays the identical arrival sequence for every compared policy', async () => {
    const loaded = scenario();
    const runs = await Promise.all(['homogeneous-fast', 'homogeneous-cheap'].map((p) => runSimulation(loaded, { scalingPolicy: p, seed: 8 })));
    assert.equal(runs[0]!.requests.total, runs[1]!.requests.total);
    assert.deepEqual(runs[0]!.timeline.map((w) => w.offeredRps), runs[1]!.timeline.map((w) => w.offeredRps));
    assert.notDeepEqual(runs[0]!.latencyMs, runs[1]!.latencyMs);
  });

  it('starts warm by default, and from an empty fleet when asked', async () => {
    const warm = await runSimulation(scenario(), { scalingPolicy: 'homogeneous-cheap', seed: 1 });
    assert.equal(warm.requests.dropReasons['no-backend'], 0);
    const cold = await runSimulation(scenario({ warmStart: false }), { scalingPolicy: 'homogeneous-cheap', seed: 1 });
    // Nothing runs until the first launch boots (60 s for r5n.large) and a tick registers it.
    assert.ok(cold.requests.dropReasons['no-backend'] > 500, `${cold.requests.dropReasons['no-backend']} dropped`);
  });

  it('bills the fleet: a static 16 × r5n.large for 15 minutes costs 16 × $0.149 / 4', async () => {
    const run = await runSimulation(scenario({}, { policy: 'static-mix', options: { mix: { 'r5n.large': 16 } } }), { seed: 1 });
    const expected = (16 * 0.149 * run.simulatedMs) / 3_600_000;
    assert.ok(Math.abs(run.cost.totalUsd - expected) / expected < 0.01, `${run.cost.totalUsd} vs ${expected}`);
    assert.ok(run.fleet.every((f) => f.mix['r5n.large'] === 16));
    assert.ok(Math.abs(run.cost.meanUsdPerHour - 16 * 0.149) < 1e-9, `mean $${run.cost.meanUsdPerHour}/h`);
  });

  it('counts the seconds over a budget that a schedule lowers under the running fleet', async () => {
    // $2.5/h until 00:05 UTC, then $0.5/h: the 16 × r5n.large ($2.384/h) are over budget until drained.
    const cfg = loadConfigObject({
      budget: { usdPerHour: 2.5, schedule: [{ cron: '0 0 0 * * *', usdPerHour: 2.5 }, { cron: '0 5 0 * * *', usdPerHour: 0.5 }] },
      classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
      pools: [{ name: 'r5n', type: 'r5n.large' }],
      scaling: { policy: 'homogeneous-cheap', interval: '30s' },
      routing: { policy: 'least-outstanding' },
      sim: { rps: 20, duration: '10m', window: '1m' },
    });
    const run = await runSimulation(cfg, { seed: 1 });
    assert.ok(run.cost.overBudgetSeconds > 0 && run.cost.overBudgetSeconds <= 60, `${run.cost.overBudgetSeconds} s over budget`);
    assert.ok(run.fleet.at(-1)!.usdPerHour <= 0.5, JSON.stringify(run.fleet.at(-1)));
    // Each fleet point is the fleet and budget at its tMs (where the plots draw it), not at the
    // end of its window: the budget changes at 5 min, in the window that starts there.
    assert.deepEqual(run.fleet.map((f) => f.budgetUsdPerHour), [2.5, 2.5, 2.5, 2.5, 2.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    assert.deepEqual(run.timeline.map((w) => w.budgetUsdPerHour), run.fleet.map((f) => f.budgetUsdPerHour));
    // The warm fleet is billed from t = 0: the first point shows it, not an empty one.
    assert.ok(run.fleet[0]!.usdPerHour > 2 && run.fleet[0]!.mix['r5n.large']! >= 14, JSON.stringify(run.fleet[0]));
    // The mean spend of the windows adds up to the run's.
    const spent = run.timeline.reduce((usd, w) => usd + (w.meanUsdPerHour * w.spanMs) / 3_600_000, 0);
    assert.ok(Math.abs(spent - (run.cost.meanUsdPerHour * run.simulatedMs) / 3_600_000) < 1e-6, `${spent} vs ${run.cost.meanUsdPerHour}`);
    assert.ok(run.fleet[4]!.meanUsdPerHour > 2 && run.fleet[6]!.meanUsdPerHour <= 0.5, JSON.stringify(run.fleet.map((f) => f.meanUsdPerHour)));
  });

  it('ticks at each budget-schedule boundary too, as the controller does, so a new budget applies at once', async () => {
    // $2.5/h until 00:05:15 UTC, then $0.5/h: between the 30 s ticks at 5:00 and 5:30.
    const withBudget = (budget: Record<string, unknown>): LoadedConfig =>
      loadConfigObject({
        budget,
        classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
        pools: [{ name: 'r5n', type: 'r5n.large' }],
        scaling: { policy: 'homogeneous-cheap', interval: '30s' },
        routing: { policy: 'least-outstanding' },
        sim: { rps: 20, duration: '10m', window: '1m' },
      });
    const run = await runSimulation(withBudget({ usdPerHour: 2.5, schedule: [{ cron: '0 0 0 * * *', usdPerHour: 2.5 }, { cron: '15 5 0 * * *', usdPerHour: 0.5 }] }), { seed: 1 });
    const at = run.decisions.find((d) => d.tMs === 315_000);
    assert.ok(at !== undefined, `a decision at the boundary: ${run.decisions.map((d) => d.tMs).join(', ')}`);
    assert.ok((at.mix['r5n.large'] ?? 0) <= 3, JSON.stringify(at.mix));
    // Drained at 5:15, terminated at the 5:30 tick: over budget for 15 s, not until 6:00.
    assert.ok(run.cost.overBudgetSeconds > 0 && run.cost.overBudgetSeconds <= 15, `${run.cost.overBudgetSeconds} s over budget`);
    // One extra tick (the boundary at 0:00 is a regular tick): ticks every 30 s from the warm-up on, plus one.
    const plain = await runSimulation(withBudget({ usdPerHour: 2.5 }), { seed: 1 });
    assert.equal(run.ticks.total, plain.ticks.total + 1);
  });

  it('runs with controller.capacityCooldown and controller.drainTimeout from the config, as the controller does', async () => {
    // Every launch fails: cooled down (the default 10 min), the type is left out and the tick
    // replans an empty fleet; with capacityCooldown 0 it is never left out.
    const cooling = (controller?: Record<string, unknown>): LoadedConfig =>
      loadConfigObject({
        budget: { usdPerHour: 2.5 },
        classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
        pools: [{ name: 'r5n', type: 'r5n.large' }],
        scaling: { policy: 'homogeneous-cheap', interval: '30s' },
        routing: { policy: 'least-outstanding' },
        sim: { rps: 20, duration: '3m', window: '1m', capacityErrorRate: 1, warmStart: false },
        ...(controller !== undefined ? { controller } : {}),
      });
    assert.deepEqual((await runSimulation(cooling(), { seed: 1 })).decisions.map((d) => d.mix), [{}]);
    assert.deepEqual((await runSimulation(cooling({ capacityCooldown: 0 }), { seed: 1 })).decisions.map((d) => d.mix), [{ 'r5n.large': 16 }]);
    // A budget cut at 5 min drains 3 of 4 overloaded instances with long queues: by default they
    // finish them (2 min to drain); with drainTimeout 0 they are cut at the next tick.
    const draining = (controller?: Record<string, unknown>): LoadedConfig =>
      loadConfigObject({
        budget: { usdPerHour: 0.6, schedule: [{ cron: '0 0 0 * * *', usdPerHour: 0.6 }, { cron: '0 5 0 * * *', usdPerHour: 0.15 }] },
        classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
        pools: [{ name: 'r5n', type: 'r5n.large' }],
        scaling: { policy: 'static-mix', interval: '30s', options: { mix: { 'r5n.large': 4 } } },
        routing: { policy: 'least-outstanding', lateBinding: false },
        sim: { rps: 150, duration: '7m', window: '1m', maxOutstandingPerSlot: 1000 },
        ...(controller !== undefined ? { controller } : {}),
      });
    assert.equal((await runSimulation(draining(), { seed: 1 })).requests.dropReasons.terminated, 0);
    assert.ok((await runSimulation(draining({ drainTimeout: 0 }), { seed: 1 })).requests.dropReasons.terminated > 500);
  });

  it('registers an instance with bootTime 0 at the tick after its launch, as the controller does', async () => {
    const cfg = loadConfigObject({
      budget: { usdPerHour: 1 },
      classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
      pools: [{ name: 'r5n', type: 'r5n.large', bootTime: 0 }],
      scaling: { policy: 'static-mix', interval: '30s', options: { mix: { 'r5n.large': 4 } } },
      routing: { policy: 'least-outstanding' },
      sim: { rps: 20, duration: '2m', window: '10s', warmStart: false },
    });
    const run = await runSimulation(cfg, { seed: 1 });
    // Launched (and running) at the tick at 0, registered at the tick at 30 s: nothing serves before.
    assert.deepEqual(run.timeline.map((w) => w.completed > 0), [false, false, false, true, true, true, true, true, true, true, true, true]);
    assert.ok(run.timeline.slice(0, 3).every((w) => w.dropped > 100));
    assert.equal(run.requests.dropReasons['no-backend'], run.requests.dropped);
    assert.equal(run.fleet[0]!.mix['r5n.large'], 4, 'billed from the launch');
  });

  it('ends the last report window at the end of the run, and starts none after it', async () => {
    const cfg = loadConfigObject({
      budget: { usdPerHour: 1 },
      classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
      pools: [{ name: 'r5n', type: 'r5n.large' }],
      scaling: { policy: 'static-mix', options: { mix: { 'r5n.large': 2 } } },
      routing: { policy: 'least-outstanding' },
      sim: { rps: 10, duration: '90s', window: '1m' },
    });
    const run = await runSimulation(cfg, { seed: 1 });
    assert.deepEqual(run.timeline.map((w) => w.tMs), [0, 60_000]);
    // 10 rps over the last 30 s, not over a full minute.
    assert.ok(run.timeline[1]!.offeredRps > 8 && run.timeline[1]!.offeredRps < 12, `${run.timeline[1]!.offeredRps} rps`);
  });

  /** `count` r5n.large behind least-outstanding routing, replaying `trace` (in `dir`) in 30 s report windows. */
  const r5nReplay = (dir: string, trace: string, count: number) =>
    loadConfigObject(
      {
        budget: { usdPerHour: 1 },
        classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
        pools: [{ name: 'r5n', type: 'r5n.large' }],
        scaling: { policy: 'static-mix', options: { mix: { 'r5n.large': count } } },
        routing: { policy: 'least-outstanding' },
        sim: { trace: { path: trace }, window: '30s' },
      },
      dir,
    );

  it('reports null percentiles (and attainment) for a window in which nothing completed, not 0 ms', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-sim-lull-'));
    const rows = [...Array.from({ length: 300 }, (_, i) => i * 100), ...Array.from({ length: 300 }, (_, i) => 120_000 + i * 100)];
    writeFileSync(join(dir, 'lull.csv'), `t_ms\n${rows.join('\n')}\n`);
    const cfg = r5nReplay(dir, 'lull.csv', 2);
    const run = await runSimulation(cfg, { seed: 1 });
    const lull = run.timeline.filter((w) => w.tMs >= 30_000 && w.tMs < 120_000);
    assert.equal(lull.length, 3);
    for (const w of lull) assert.deepEqual([w.completed, w.dropped, w.p50, w.p90, w.p99, w.attainment], [0, 0, null, null, null, null]);
    for (const w of run.timeline.filter((x) => x.completed > 0)) assert.ok(w.p99! > 0 && w.attainment !== null);
    const json = JSON.parse(reportJson(buildReport(cfg, [run], { name: 'lull', trace: 'lull.csv', seed: 1 })));
    assert.equal(json.runs[0].timeline[1].p99, null);
  });

  it('folds the drain after the last arrival into the last window, and gives every window its span', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-sim-tail-'));
    // The last arrival 1 ms before the 1-minute boundary: it completes after it.
    const rows = [...Array.from({ length: 1199 }, (_, i) => i * 50), 59_999];
    writeFileSync(join(dir, 'tail.csv'), `t_ms,size\n${rows.map((t) => `${t},100`).join('\n')}\n`);
    const cfg = r5nReplay(dir, 'tail.csv', 4);
    const run = await runSimulation(cfg, { seed: 1 });
    assert.ok(run.simulatedMs > 60_000, `${run.simulatedMs}`);
    assert.deepEqual(run.timeline.map((w) => w.tMs), [0, 30_000]);
    assert.deepEqual(run.timeline.map((w) => w.spanMs), [30_000, run.simulatedMs - 30_000]);
    assert.equal(run.timeline.reduce((n, w) => n + w.completed, 0), 1200);
    // Offered load over the window as the trace has it, whatever the drain: 600 arrivals in 30 s.
    assert.ok(Math.abs(run.timeline[1]!.offeredRps - 20) < 1e-9, `${run.timeline[1]!.offeredRps}`);
    // A partial last window with arrivals in it stays a window of its own.
    const cut = await runSimulation(cfg, { seed: 1, arrivals: { kind: 'trace', path: join(dir, 'tail.csv'), durationMs: 45_000 } });
    assert.deepEqual(cut.timeline.map((w) => w.tMs), [0, 30_000]);
    assert.ok(cut.timeline[1]!.spanMs < 30_000 && cut.timeline[1]!.spanMs > 14_000);
    // Its offered rate is over the load's 15 s in it, not over the drain after (which depends on
    // the fleet): 300 arrivals in 15 s, with 4 nodes or with 1.
    const slow = await runSimulation(cfg, { seed: 1, scalingPolicy: 'static-mix', arrivals: { kind: 'trace', path: join(dir, 'tail.csv'), durationMs: 45_000 } });
    for (const r of [cut, slow]) assert.ok(Math.abs(r.timeline[1]!.offeredRps - 20) < 1e-9, `${r.timeline[1]!.offeredRps}`);
    const one = loadConfigObject({ ...cfg.config, scaling: { policy: 'static-mix', options: { mix: { 'r5n.large': 1 } } } } as never, dir);
    const drained = await runSimulation(one, { seed: 1, arrivals: { kind: 'poisson', rps: 20, durationMs: 45_000, sizes: { kind: 'fixed', size: 100 } } });
    const four = await runSimulation(cfg, { seed: 1, arrivals: { kind: 'poisson', rps: 20, durationMs: 45_000, sizes: { kind: 'fixed', size: 100 } } });
    assert.ok(drained.simulatedMs !== four.simulatedMs, 'the drains differ');
    assert.equal(drained.timeline[1]!.offeredRps, four.timeline[1]!.offeredRps);
  });

  it("gives the last window's offered rate over the trace's span in it when a longer window (--duration) runs past the trace's end", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-sim-past-end-'));
    // 20 rps for 45 s (rows up to 44.95 s), and a rate series at 20 rps that ends at 45 s.
    writeFileSync(join(dir, 'rows.csv'), `t_ms,size\n${Array.from({ length: 900 }, (_, i) => `${i * 50},100`).join('\n')}\n`);
    writeFileSync(join(dir, 'rates.csv'), 't_s,rps\n0,20\n15,20\n30,20\n');
    const cfg = r5nReplay(dir, 'rows.csv', 4);
    for (const trace of ['rows.csv', 'rates.csv']) {
      const whole = await runSimulation(cfg, { seed: 1, arrivals: { kind: 'trace', path: join(dir, trace) } });
      // An hour's window of a 45 s trace: the load still ends at 45 s, not at 1 h.
      const long = await runSimulation(cfg, { seed: 1, arrivals: { kind: 'trace', path: join(dir, trace), durationMs: 3_600_000 } });
      assert.deepEqual(long.timeline.map((w) => w.tMs), [0, 30_000], trace);
      const last = long.timeline[1]!.offeredRps;
      assert.ok(last > 15 && last < 25, `${trace}: ${last} rps`);
      assert.equal(last, whole.timeline[1]!.offeredRps, trace);
    }
  });

  it('runs a constant Poisson load given instead of a trace', async () => {
    const run = await runSimulation(scenario(), { scalingPolicy: 'homogeneous-cheap', arrivals: { kind: 'poisson', rps: 40, durationMs: 300_000, sizes: { kind: 'fixed', size: 100 } } });
    assert.ok(Math.abs(run.requests.total - 12_000) < 500, `${run.requests.total}`);
    assert.equal(run.requests.dropped, 0);
    // Size 100 on r5n.large takes about 43 ms, well inside the SLO at this load.
    assert.ok(run.latencyMs.p50 > 40 && run.latencyMs.p50 < 60, `p50 ${run.latencyMs.p50}`);
  });

  it('fails with the trace file and line on a bad trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-sim-bad-'));
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 't_ms\n0\n10\nabc\n');
    await assert.rejects(runSimulation(scenario(), { arrivals: { kind: 'trace', path: bad } }), (e: unknown) => e instanceof TraceError && /bad\.csv:4/.test(e.message));
  });

  it('gives routing.options to routing.policy only: another router (--routing) runs with its defaults', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-sim-'));
    const loaded = loadConfigObject({ ...kairosConfig, routing: { policy: 'heterogeneity-aware', options: { rejectLate: false } }, sim: { rps: 5, duration: '1m' } }, dir);
    const run = await runSimulation(loaded, { routingPolicy: 'least-outstanding', scalingPolicy: 'homogeneous-cheap' });
    assert.equal(run.router, 'least-outstanding');
    assert.ok(run.requests.completed > 0);
  });

  it('says why a compared policy cannot run when it needs options scaling.policy has', async () => {
    await assert.rejects(runSimulation(scenario(), { scalingPolicy: 'static-mix' }), (e: unknown) => e instanceof ConfigError && /static-mix needs .*runs beside scaling\.policy "target-tracking" with its default options/.test(e.message));
  });

  it("gives scaling.options to scaling.policy only: a policy compared beside it runs with its defaults", async () => {
    const loaded = scenario({}, { policy: 'fast-frugal', options: { headroom: 0.1, scaleDownDelay: 60_000 } });
    const other = await runSimulation(loaded, { scalingPolicy: 'kairos', arrivals: { kind: 'poisson', rps: 5, durationMs: 60_000 } });
    assert.ok(other.requests.total > 0);
    const own = await runSimulation(loaded, { scalingPolicy: 'fast-frugal', arrivals: { kind: 'poisson', rps: 5, durationMs: 60_000 } });
    assert.ok(own.requests.total > 0);
  });

  it('drops sizes no profile covers, counting them, and refuses a load made only of them', async () => {
    const mixed = { kind: 'mixture', components: [{ weight: 1, dist: { kind: 'fixed', size: 100 } }, { weight: 1, dist: { kind: 'fixed', size: 5000 } }] } as const;
    const run = await runSimulation(scenario(), { scalingPolicy: 'homogeneous-cheap', arrivals: { kind: 'poisson', rps: 5, durationMs: 60_000, sizes: mixed } });
    assert.ok(run.requests.dropReasons.unprofiled > 0.3 * run.requests.total && run.requests.dropReasons.unprofiled < 0.7 * run.requests.total, JSON.stringify(run.requests));
    await assert.rejects(
      runSimulation(scenario(), { scalingPolicy: 'homogeneous-cheap', arrivals: { kind: 'poisson', rps: 5, durationMs: 60_000, sizes: { kind: 'fixed', size: 5000 } } }),
      (e: unknown) => e instanceof ConfigError && /^sim\.sizes: every request size .* is above 1000, the largest size rm2 is profiled for/.test(e.message),
    );
  });

  it('batches queued requests on fast instances when asked, serving more of a load that overloads one-at-a-time service', async () => {
    // Binding at arrival: the batch forms from the instance's own queue.
    const single = await runSimulation(gpuOnly(0, false), { seed: 1 });
    const batched = await runSimulation(gpuOnly(1000, false), { seed: 1 });
    assert.equal(single.requests.total, batched.requests.total);
    assert.ok(single.requests.dropped > 1000, `one at a time is overloaded (${single.requests.dropped} dropped)`);
    assert.equal(batched.requests.dropped, 0);
    assert.ok(batched.latencyMs.p99 < 350, `batched p99 ${batched.latencyMs.p99}`);
    assert.ok(batched.checks.conservation && batched.checks.littleRelativeError < 0.02);
  });

  it('runs the estimator the controller would (controller.estimator): a long stable window reacts later to the step', async () => {
    const firstChangeAfterStep = async (estimator?: Record<string, unknown>): Promise<number> => {
      // tailSlack 0: with its default the fleet starts with room for the step and need not change at all.
      const loaded = scenario({}, { policy: 'fast-frugal', options: { tailSlack: 0 } });
      const cfg = estimator === undefined ? loaded : loadConfigObject({ ...loaded.config, controller: { estimator } }, loaded.resolvePath('.'));
      const run = await runSimulation(cfg, { seed: 1 });
      return run.decisions.find((d) => d.tMs >= 300_000)?.tMs ?? Infinity;
    };
    const plain = await firstChangeAfterStep();
    const smoothed = await firstChangeAfterStep({ stableWindow: '4m', panicThreshold: 100 });
    assert.ok(plain < 420_000, `without an estimator the fleet follows the step at once (${plain})`);
    assert.ok(smoothed > plain, `a 4-minute stable window reacts later (${smoothed} vs ${plain})`);
  });

  describe('late binding (routing.lateBinding)', () => {
    /** Kairos' mix (1 × g4dn + 13 × r5n) behind the heterogeneity-aware router at 120 rps. */
    const kairosMix = (lateBinding: boolean): LoadedConfig =>
      loadConfigObject({
        budget: { usdPerHour: 2.5 },
        classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
        pools: [
          { name: 'gpu', type: 'g4dn.xlarge' },
          { name: 'r5n', type: 'r5n.large' },
        ],
        scaling: { policy: 'static-mix', options: { mix: { 'g4dn.xlarge': 1, 'r5n.large': 13 } } },
        routing: { policy: 'heterogeneity-aware', lateBinding },
        sim: { rps: 120, duration: '8m', sizes: { kind: 'kairos' } },
      });

    it('holds requests at the router and binds them as slots free: more within SLO near capacity, nothing lost', async () => {
      const early = await runSimulation(kairosMix(false), { seed: 4 });
      const late = await runSimulation(kairosMix(true), { seed: 4 });
      assert.equal(early.requests.total, late.requests.total);
      assert.ok(late.slo.attainment > early.slo.attainment + 0.002, `late ${late.slo.attainment} vs at arrival ${early.slo.attainment}`);
      assert.ok(late.slo.attainment >= 0.99, `late binding holds 99% at 120 rps (${late.slo.attainment})`);
      const r = late.requests;
      assert.equal(r.total, r.completed + r.dropped + r.inFlight);
      assert.equal(r.dropped, r.dropReasons.deadline, 'only requests whose deadline passed while waiting are dropped');
      assert.ok(late.checks.littleRelativeError < 0.02, `Little: L ${late.checks.littleL} vs λW ${late.checks.littleLambdaW}`);
    });

    it("tells fast-frugal how the router binds: it counts on the shared queue only with late binding", async () => {
      const run = async (lateBinding: boolean) => {
        const cfg = loadConfigObject({
          ...kairosConfig,
          scaling: { policy: 'fast-frugal', interval: '30s' },
          routing: { policy: 'heterogeneity-aware', lateBinding },
          sim: { rps: 130, duration: '3m', sizes: { kind: 'kairos' } },
        });
        return runSimulation(cfg, { seed: 2 });
      };
      const gpus = (r: Awaited<ReturnType<typeof run>>) => r.decisions.map((d) => d.mix['g4dn.xlarge'] ?? 0);
      const late = await run(true);
      assert.ok(gpus(late).every((n) => n === 1), JSON.stringify(late.decisions.map((d) => d.mix)));
      const atArrival = await run(false);
      assert.equal(gpus(atArrival).at(-1), 0, JSON.stringify(atArrival.decisions.map((d) => d.mix)));
    });

    it('rejects as overloaded what does not fit the waiting room', async () => {
      const cfg = loadConfigObject({
        budget: { usdPerHour: 1 },
        classes: [{ name: 'rm2', model: 'rm2', slo: '10s' }],
        pools: [{ name: 'gpu', type: 'g4dn.xlarge' }],
        scaling: { policy: 'static-mix', options: { mix: { 'g4dn.xlarge': 1 } } },
        routing: { policy: 'least-outstanding', lateBinding: true, maxWaiting: 5 },
        sim: { rps: 100, duration: '1m', sizes: { kind: 'fixed', size: 100 } },
      });
      const run = await runSimulation(cfg, { seed: 1 });
      assert.ok(run.requests.dropReasons.overloaded > 1000, `${run.requests.dropReasons.overloaded} overloaded`);
      assert.equal(run.requests.total, run.requests.completed + run.requests.dropped);
      assert.equal(run.requests.inFlight, 0);
      assert.ok(run.checks.conservation);
    });

    it('drops at once, as no-backend, the waiting requests of a model whose last node leaves (as the router does)', async () => {
      // One r5n.large, overloaded by size-200 requests; at 00:03 the budget no longer pays for it.
      const cfg = loadConfigObject({
        budget: { usdPerHour: 1, schedule: [{ cron: '0 0 0 * * *', usdPerHour: 1 }, { cron: '0 3 0 * * *', usdPerHour: 0.01 }] },
        classes: [{ name: 'rm2', model: 'rm2', slo: '1h' }],
        pools: [{ name: 'r5n', type: 'r5n.large' }],
        scaling: { policy: 'static-mix', interval: '10s', options: { mix: { 'r5n.large': 1 } } },
        routing: { policy: 'least-outstanding', lateBinding: true },
        sim: { rps: 20, duration: '4m', sizes: { kind: 'fixed', size: 200 } },
      });
      const run = await runSimulation(cfg, { seed: 1 });
      assert.ok(run.requests.completed > 0);
      assert.equal(run.requests.dropReasons.deadline, 0, 'none waited out its (hour-long) deadline');
      assert.ok(run.requests.dropReasons['no-backend'] > 0);
      assert.ok(run.checks.conservation);
    });

    it('settles every request by the end: those no backend would take are dropped at their deadline', async () => {
      // Overloaded: heterogeneity-aware declines, for a free r5n, waiting requests it cannot
      // finish in time there, so when the last completion frees a slot some are still waiting.
      const cfg = loadConfigObject({
        budget: { usdPerHour: 1 },
        classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
        pools: [{ name: 'gpu', type: 'g4dn.xlarge' }, { name: 'r5n', type: 'r5n.large' }],
        scaling: { policy: 'static-mix', options: { mix: { 'g4dn.xlarge': 1, 'r5n.large': 1 } } },
        routing: { policy: 'heterogeneity-aware' },
        sim: { rps: 120, duration: '1m' },
      });
      const run = await runSimulation(cfg, { seed: 1 });
      const r = run.requests;
      assert.equal(r.inFlight, 0);
      assert.equal(r.total, r.completed + r.dropped);
      assert.ok(run.checks.conservation);
      assert.ok(run.checks.littleRelativeError < 0.02, `Little: L ${run.checks.littleL} vs λW ${run.checks.littleLambdaW}`);
    });

    it('batches waiting requests on a fast instance', async () => {
      // Late binding: the batch forms from the router's waiting requests.
      const single = await runSimulation(gpuOnly(0, true), { seed: 1 });
      const batched = await runSimulation(gpuOnly(1000, true), { seed: 1 });
      assert.ok(single.requests.dropped > 1000, `one at a time is overloaded (${single.requests.dropped} dropped)`);
      assert.equal(batched.requests.dropped, 0);
      assert.ok(batched.latencyMs.p99 < 350, `batched p99 ${batched.latencyMs.p99}`);
      assert.ok(batched.checks.conservation && batched.checks.littleRelativeError < 0.02);
    });
  });
});
