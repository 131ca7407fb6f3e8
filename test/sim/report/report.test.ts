import assert from 'node:assert/strict';
import { renderHtml } from '../../../sim/report/html.ts';
import { reportJson } from '../../../sim/report/json.ts';
import { renderSummary } from '../../../sim/report/summary.ts';
import type { SimReport } from '../../../sim/result.ts';
import { tinyReport } from './tiny-scenario.ts';

const report = (): Promise<SimReport> => tinyReport(2);

describe('simulation reports', () => {
  it('summarize one row per policy with the scenario on top', async () => {
    const text = renderSummary(await report());
    assert.match(text, /^scenario tiny: budget \$2\.50\/h, rm2 \(rm2\) p99 ≤ 350ms/);
    assert.match(text, /\nhomogeneous-fast\s+least-outstanding\s+\d+/);
    assert.match(text, /\nhomogeneous-cheap\s+least-outstanding\s+\d+/);
    assert.match(text, /\nbest: /);
  });

  it('name the budget schedule beside the base budget, and write over-budget time to a tenth of a second', async () => {
    const r = await report();
    const first = r.runs[0]!;
    const scheduled: SimReport = {
      scenario: { ...r.scenario, budgetSchedule: [{ cron: '0 5 0 * * *', usdPerHour: 1.5 }, { cron: '0 0 2 * * *', usdPerHour: 3 }] },
      runs: [{ ...first, cost: { ...first.cost, overBudgetSeconds: 0.20180738029029452 } }, { ...first, policy: 'other', cost: { ...first.cost, overBudgetSeconds: 0.0004 } }],
    };
    const text = renderSummary(scheduled);
    assert.match(text, /^scenario tiny: budget \$2\.50\/h \(scheduled, UTC: \$1\.50\/h from "0 5 0 \* \* \*", \$3\.00\/h from "0 0 2 \* \* \*"\), rm2/);
    assert.match(text, new RegExp(`\\n${first.policy}\\s.*\\s0\\.2\\n`));
    assert.match(text, /\nother\s.*\s<0\.1\n/);
    const html = await renderHtml(scheduled);
    assert.match(html, /<b>Budget<\/b> \$2\.50\/h \(scheduled, UTC: \$1\.50\/h from &quot;0 5 0 \* \* \*&quot;, \$3\.00\/h from &quot;0 0 2 \* \* \*&quot;\)/);
    assert.match(html, /<td class="bad">0\.2<\/td>/);
  });

  it('plot offered load and billed $/h at their values, not twice over at every window boundary', async () => {
    const r = await report();
    const html = await renderHtml(r);
    const axisTops = (title: string): number[] =>
      [...html.matchAll(new RegExp(`aria-label="Y-axis titled '${title.replace(/[$/]/g, '\\$&')}' for a linear scale with values from [\\d.]+ to ([\\d.,]+)"`, 'g'))].map((m) => Number(m[1]!.replace(/,/g, '')));
    const offered = Math.max(...r.runs[0]!.timeline.map((w) => w.offeredRps));
    const [load] = axisTops('requests / s');
    assert.ok(load !== undefined && load >= offered && load < 1.5 * offered, `offered load axis up to ${load} for a peak of ${offered} rps`);
    const fleets = axisTops('$/h billed');
    assert.equal(fleets.length, r.runs.length);
    r.runs.forEach((run, i) => {
      const top = Math.max(r.scenario.budgetUsdPerHour, ...run.fleet.map((f) => f.usdPerHour));
      assert.ok(fleets[i]! >= top && fleets[i]! < 1.5 * top, `${run.policy}: spend axis up to ${fleets[i]} for at most $${top}/h`);
    });
  });

  it('say when the decisions list is cut: the first 200 listed, and "or more" where a run kept the most it keeps', async () => {
    const r = await report();
    const first = r.runs[0]!;
    const many = (n: number) => Array.from({ length: n }, (_, i) => ({ tMs: i * 1000, mix: { 'r5n.large': (i % 3) + 1 }, reason: `change ${i}` }));
    const html = await renderHtml({ ...r, runs: [{ ...first, decisions: many(500) }, { ...first, policy: 'few', decisions: many(3) }] });
    assert.match(html, /: 500 or more mix changes, /);
    assert.match(html, /<td colspan="3">the first 200 shown; the JSON has 500, the most a run keeps<\/td>/);
    assert.equal((html.match(/<td>change \d+<\/td>/g) ?? []).length, 203);
    assert.match(html, /few[^<]*: 3 mix changes, /);
  });

  it('show n/a, not 0 ms, for the latency of a run that completed nothing', async () => {
    const r = await report();
    const first = r.runs[0]!;
    const empty = { ...first, requests: { ...first.requests, completed: 0, dropped: first.requests.total }, latencyMs: { ...first.latencyMs, p50: 0, p99: 0, p999: 0 } };
    const text = renderSummary({ ...r, runs: [empty, ...r.runs.slice(1)] });
    assert.match(text, new RegExp(`\\n${first.policy}\\s+${first.router}\\s+\\d+\\s+n/a\\s+n/a\\s+n/a\\s`));
    const html = await renderHtml({ ...r, runs: [empty, ...r.runs.slice(1)] });
    assert.match(html, /<td>n\/a<\/td><td class="bad">n\/a<\/td><td>n\/a<\/td>/);
  });

  it('never show 100% within SLO for a run that missed a request', async () => {
    const r = await report();
    const first = r.runs[0]!;
    const almost = { ...first, requests: { ...first.requests, total: 100_000, dropped: 1 }, slo: { ...first.slo, attainment: 0.99999 } };
    const runs = [almost, ...r.runs.slice(1)];
    const text = renderSummary({ ...r, runs });
    assert.match(text, new RegExp(`\\n${first.policy}\\s+${first.router}\\s+100000\\s+\\S+\\s+\\S+\\s+\\S+\\s+99\\.999%\\s`));
    assert.doesNotMatch(text, /100\.0+%/);
    const html = await renderHtml({ ...r, runs });
    assert.match(html, />99\.999%<\/td>/);
    assert.doesNotMatch(html, /100\.00%/);
    // Rounding to nearest stays where it shows no perfection that was not there.
    const whole = renderSummary({ ...r, runs: [{ ...first, slo: { ...first.slo, attainment: 0.99876 } }] });
    assert.match(whole, /\s99\.9%\s/);
  });

  it('never show a p99 judged over its target as the target itself', async () => {
    const r = await report();
    const first = r.runs[0]!;
    const row = (page: string): string => page.split('<tr').find((t) => t.includes(`${first.policy}</td>`))!;
    // 350.207 ms against a 350 ms p99 target: red, and it reads above the target.
    const over = await renderHtml({ ...r, runs: [{ ...first, latencyMs: { ...first.latencyMs, p99: 350.207 } }] });
    assert.match(row(over), /<td class="bad">350\.2 ms<\/td>/);
    // Within it, the usual whole milliseconds.
    const within = await renderHtml({ ...r, runs: [{ ...first, latencyMs: { ...first.latencyMs, p99: 349.951 } }] });
    assert.match(row(within), /<td class="good">350 ms<\/td>/);
  });

  it('leave a gap in the p99 plot for a window with no completions, instead of drawing it as 0.1 ms', async () => {
    const r = await report();
    const paths = (page: string): number => {
      const svg = page.split('<svg').find((p) => p.includes('p99 latency per window'))!;
      return [...svg.matchAll(/<path[^>]*d="([^"]*)"/g)].map((m) => m[1]!).filter((d) => /L.*L/.test(d)).reduce((n, d) => n + (d.match(/M/g) ?? []).length, 0);
    };
    const whole = paths(await renderHtml(r));
    const first = r.runs[0]!;
    assert.ok(first.timeline.length >= 4);
    const lull = { ...first, timeline: first.timeline.map((w, i) => (i === 2 ? { ...w, completed: 0, p50: null, p90: null, p99: null } : w)) };
    assert.equal(paths(await renderHtml({ ...r, runs: [lull, ...r.runs.slice(1)] })), whole + 1, 'one more stretch of line: the gap splits it');
  });

  it('render runs of more windows than a call takes arguments (10 ms windows over 30 minutes), merging them for the plots', async function () {
    this.timeout(60_000);
    const r = await report();
    const first = r.runs[0]!;
    const w = first.timeline[1]!;
    const n = 180_000;
    const timeline = Array.from({ length: n }, (_, i) => ({ ...w, tMs: i * 10, spanMs: 10, attainment: i >= 1000 && i < 1200 ? 0.5 : 1, p99: i === 99_999 ? 9000 : 100 }));
    const fleet = timeline.map((x) => ({ tMs: x.tMs, mix: x.mix, usdPerHour: x.usdPerHour, meanUsdPerHour: x.meanUsdPerHour, budgetUsdPerHour: x.budgetUsdPerHour }));
    const page = await renderHtml({ ...r, runs: [{ ...first, timeline, fleet, simulatedMs: n * 10 }] });
    assert.match(page, /^<!doctype html>/);
    const p99 = page.split('<svg').find((p) => p.includes('p99 latency per window'))!;
    const line = [...p99.matchAll(/<path[^>]*d="([^"]*)"/g)].map((m) => m[1]!).find((d) => (d.match(/L/g) ?? []).length > 100)!;
    assert.ok((line.match(/L/g) ?? []).length <= 4 * 2000, 'at most 2,000 windows plotted');
    // The worst p99 survives the merging, and so does a stretch of misses: the p99 axis reaches
    // 10 s, the attainment axis goes down to 50%.
    const axis = (svg: string): string => svg.match(/aria-label="(Y-axis[^"]*)"/)![1]!;
    assert.match(axis(p99), /values from 100 to 10,000$/);
    assert.match(axis(page.split('<svg').find((p) => p.includes('Requests within SLO per window'))!), /values from 50% to 100%$/);
  });

  it("judge a multi-class run by each class's own SLO: a rule per target, green only when every class meets its own", async () => {
    const r = await report();
    const first = r.runs[0]!;
    const a = first.perClass.rm2!;
    // Class b (50 ms at p90) misses its target while the first class and the overall figures look fine.
    const b = { ...a, model: 'ncf', slo: { targetMs: 50, quantile: 0.9, attainment: 0.5, met: false } };
    const run = { ...first, perClass: { rm2: { ...a, slo: { ...a.slo, met: true } }, b }, slo: { ...first.slo, attainment: 0.995 }, latencyMs: { ...first.latencyMs, p99: 300 } };
    const multi = { ...r, scenario: { ...r.scenario, classes: [...r.scenario.classes, { name: 'b', model: 'ncf', sloMs: 50, sloQuantile: 0.9 }] }, runs: [run] };
    const page = await renderHtml(multi);
    const row = page.split('<tr').find((t) => t.includes(`${first.policy}</td>`))!;
    assert.match(row, /<td class="bad">99\.50%<\/td>/, 'class b misses its target');
    assert.match(row, /<td>300 ms<\/td>/, 'a p99 over classes of different targets is not judged');
    const p99 = page.split('<svg').find((p) => p.includes('p99 latency per window'))!;
    assert.match(p99, /SLOs rm2 p99 ≤ 350 ms, b p90 ≤ 50 ms dashed/);
    const rules = (svg: string): number => (svg.match(/<line[^>]*stroke="#d62728"/g) ?? []).length;
    assert.equal(rules(p99), 2);
    assert.equal(rules(page.split('<svg').find((p) => p.includes('Latency CDF'))!), 2);
    // One class: one rule, and the p99 judged against it.
    const single = await renderHtml({ ...r, runs: [{ ...run, perClass: { rm2: run.perClass.rm2 } }] });
    assert.equal(rules(single.split('<svg').find((p) => p.includes('p99 latency per window'))!), 1);
    assert.match(single.split('<tr').find((t) => t.includes(`${first.policy}</td>`))!, /<td class="good">300 ms<\/td>.*\n<td class="good">99\.50%<\/td>/);
    // A shared target that is not a p99 (p95 ≤ 350 ms) does not judge the p99 cell.
    const p95 = await renderHtml({ ...r, scenario: { ...r.scenario, classes: [{ ...r.scenario.classes[0]!, sloQuantile: 0.95 }] }, runs: [{ ...run, perClass: { rm2: run.perClass.rm2 }, latencyMs: { ...run.latencyMs, p99: 400 } }] });
    assert.match(p95.split('<tr').find((t) => t.includes(`${first.policy}</td>`))!, /<td>400 ms<\/td>/);
    assert.match(p95, /The p99 is not judged: the target is not a p99\./);
    assert.match(p95.split('<svg').find((p) => p.includes('p99 latency per window'))!, /SLO rm2 p95 ≤ 350 ms dashed/);
  });

  it('write JSON with rounded numbers, and bytes that depend only on the seed when timing is off', async () => {
    const r = await report();
    const a = reportJson(r, { timing: false });
    const b = reportJson(await report(), { timing: false });
    assert.equal(a, b);
    for (const num of a.match(/-?\d+\.\d+(?:e-?\d+)?/g) ?? []) {
      const digits = num.replace(/e.*$/, '').replace(/[-.]/g, '').replace(/^0+/, '');
      assert.ok(digits.length <= 6, `${num} has more than 6 significant digits`);
    }
    const parsed = JSON.parse(a) as SimReport;
    assert.equal(parsed.runs[0]!.wallClockMs, 0);
    // Rounding never reaches into a whole part: 14,400,057.3 ms is not 14,400,100.
    const long = JSON.parse(reportJson({ ...r, runs: [{ ...r.runs[0]!, simulatedMs: 14_400_057.3 }] })) as SimReport;
    assert.equal(long.runs[0]!.simulatedMs, 14_400_057);
    assert.ok(JSON.parse(reportJson(r)).runs[0].wallClockMs > 0);
  });

  it('render a self-contained HTML page with every plot', async () => {
    const page = await renderHtml(await report());
    assert.match(page, /^<!doctype html>/);
    for (const title of ['Offered load', 'p99 latency per window', 'Requests within SLO per window', 'Latency CDF']) assert.ok(page.includes(title), title);
    // Two fleet panels (one per policy) plus four plots.
    assert.ok((page.match(/<svg/g) ?? []).length >= 6);
    assert.doesNotMatch(page, /<script/);
  });

  it('number two runs that share a policy and router, so each fleet panel shows its own run', async () => {
    const r = await report();
    const first = r.runs[0]!;
    const cheaper = { ...first, fleet: first.fleet.map((f) => ({ ...f, mix: {} })) };
    const page = await renderHtml({ ...r, runs: [first, cheaper] });
    const name = `${first.policy} / ${first.router}`;
    for (const n of [1, 2]) assert.ok(page.includes(`${name} (${n})`), `${name} (${n})`);
    // The second run's fleet is empty: its panel must bill nothing, while the first's bills its fleet.
    const panel = (n: number): string => page.split('<svg').find((p) => p.includes(`Title text '${name} (${n})'`)) ?? '';
    const billed = (svg: string): number[] => [...svg.matchAll(/\$\/h billed: ([\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(billed(panel(1)).some((usd) => usd > 0));
    assert.ok(billed(panel(2)).length > 0);
    assert.ok(billed(panel(2)).every((usd) => usd === 0));
  });
});
