import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { formatSeconds, formatUsd } from '../../src/core/units.ts';
import { budgetText } from './summary.ts';
import type { WindowRecord } from '../recorder.ts';
import { bestRun, MAX_DECISIONS, percent, runLatency, type SimReport, type SimRun } from '../result.ts';

/**
 * The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network) with
 * the comparison table and vega-lite plots rendered to SVG at build time: offered load, p99 per
 * window against the SLO, SLO attainment per window, spend by instance type stacked under the
 * budget line, and the latency CDF of each policy.
 */

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d'];
const TYPE_PALETTE = ['#1f4e79', '#6baed6', '#fd8d3c', '#a1d99b', '#9e9ac8', '#fdd0a2', '#969696', '#e7ba52'];

/**
 * The points of a step-after area over contiguous windows: each window's start, and the last
 * one's end, with the value `of` gives a window. Never two points at one time: an area stacks
 * (or sums) points that share an x, which drew each value twice over at every window boundary.
 */
function stepPoints<T>(windows: readonly WindowRecord[], of: (w: WindowRecord, i: number) => T): Array<{ tMs: number; value: T }> {
  const out: Array<{ tMs: number; value: T }> = [];
  windows.forEach((w, i) => {
    const value = of(w, i);
    if (out.length > 0 && out[out.length - 1]!.tMs === w.tMs) out.pop(); // a window of no span: the next one's start stands
    out.push({ tMs: w.tMs, value });
    if (i === windows.length - 1 && w.spanMs > 0) out.push({ tMs: w.tMs + w.spanMs, value });
  });
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

const CONFIG = {
  font: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 500, gridColor: '#eceff3' },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: 'bottom', labelLimit: 480, columns: 2 },
  view: { stroke: null },
} as const;

/** Each run's label, `policy / router`, numbered where two runs would share one (the plots select runs by label). */
function runLabels(runs: readonly SimRun[]): string[] {
  const base = runs.map((r) => `${r.policy} / ${r.router}`);
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${b} (${base.slice(0, i + 1).filter((x) => x === b).length})` : b));
}

/** The most windows of a run the plots draw; beyond it consecutive windows are merged. */
const MAX_PLOTTED_WINDOWS = 2000;
/** Scaling decisions listed per run; the rest are in the JSON. */
const SHOWN_DECISIONS = 200;

/**
 * A run's timeline and fleet as plotted: at most MAX_PLOTTED_WINDOWS windows, consecutive ones
 * merged beyond it (offered load averaged over their spans, the highest p99, attainment over all
 * the requests they finished, the fleet at the first one's start). The JSON keeps every window.
 */
function plotted(r: SimRun): SimRun {
  const n = r.timeline.length;
  if (n <= MAX_PLOTTED_WINDOWS) return r;
  const k = Math.ceil(n / MAX_PLOTTED_WINDOWS);
  const timeline: WindowRecord[] = [];
  for (let i = 0; i < n; i += k) {
    const group = r.timeline.slice(i, i + k);
    let span = 0;
    let arrivals = 0;
    let completed = 0;
    let dropped = 0;
    let within = 0;
    let spend = 0;
    let p99: number | null = null;
    for (const w of group) {
      span += w.spanMs;
      arrivals += w.offeredRps * w.spanMs;
      completed += w.completed;
      dropped += w.dropped;
      if (w.attainment !== null) within += w.attainment * (w.completed + w.dropped);
      spend += w.meanUsdPerHour * w.spanMs;
      if (w.p99 !== null && (p99 === null || w.p99 > p99)) p99 = w.p99;
    }
    const first = group[0]!;
    timeline.push({
      ...first,
      spanMs: span,
      offeredRps: span > 0 ? arrivals / span : first.offeredRps,
      completed,
      dropped,
      p50: null,
      p90: null,
      p99,
      attainment: completed + dropped > 0 ? within / (completed + dropped) : null,
      meanUsdPerHour: span > 0 ? spend / span : first.meanUsdPerHour,
    });
  }
  const fleet = timeline.map((w) => ({ tMs: w.tMs, mix: w.mix, usdPerHour: w.usdPerHour, meanUsdPerHour: w.meanUsdPerHour, budgetUsdPerHour: w.budgetUsdPerHour }));
  return { ...r, timeline, fleet };
}

export async function renderHtml(report: SimReport): Promise<string> {
  const runs = report.runs.map(plotted);
  const labels = runLabels(runs);
  const label = (r: SimRun): string => labels[runs.indexOf(r)]!;
  const policyScale = { domain: labels, range: labels.map((_, i) => PALETTE[i % PALETTE.length]!) };
  // Each class's target is drawn; a p99 over all classes is judged only against a target they share.
  const classes = report.scenario.classes;
  const slos = [...new Set(classes.map((c) => c.sloMs))];
  const commonSlo = slos.length === 1 ? slos[0] : undefined;
  // The p99 cell is judged only against a target that is itself a p99 (a p95 ≤ 200 ms target says nothing of the p99).
  const p99Slo = commonSlo !== undefined && classes.every((c) => c.sloQuantile === 0.99) ? commonSlo : undefined;
  // The targets the p99 plot draws, each with its quantile unless every one is a p99 of one value.
  const target = (c: (typeof classes)[number]): string => `${c.name} p${Math.round(c.sloQuantile * 1000) / 10} ≤ ${c.sloMs} ms`;
  const sloTitle = p99Slo !== undefined ? `SLO ${p99Slo} ms dashed` : `SLO${classes.length === 1 ? '' : 's'} ${classes.map(target).join(', ')} dashed`;
  const price = new Map(report.scenario.pools.map((p) => [p.type, p.usdPerHour]));
  const types = report.scenario.pools.map((p) => p.type);
  const minutes = (t: number): number => Math.round((t / 60_000) * 1000) / 1000;

  // Each window is drawn from its start to its end (a point at each, so a window before a gap, and
  // the last one, still show); a window with no completions has no p99 (null: the line breaks),
  // and one where nothing finished no attainment.
  const perWindow = runs.flatMap((r) =>
    r.timeline.flatMap((w) => {
      const end = w.tMs + w.spanMs;
      const at = { policy: label(r), minute: minutes(w.tMs), offered: w.offeredRps, p99: w.p99 === null ? null : Math.max(w.p99, 0.1), attainment: w.attainment };
      return end > w.tMs && (at.p99 !== null || at.attainment !== null) ? [at, { ...at, minute: minutes(end) }] : [at];
    }),
  );
  // Each window's fleet (as at its start; fleet[i] is timeline[i]'s) drawn from its start to the
  // next window's, the last one to its end.
  const spend = runs.flatMap((r) =>
    stepPoints(r.timeline, (_w, i) => r.fleet[i]!).flatMap(({ tMs, value: f }) =>
      types.map((type) => ({ policy: label(r), minute: minutes(tMs), type, usd: (f.mix[type] ?? 0) * (price.get(type) ?? 0), n: f.mix[type] ?? 0, budget: f.budgetUsdPerHour })),
    ),
  );
  const cdf = runs.flatMap((r) => r.cdf.map((p) => ({ policy: label(r), ms: Math.max(p.ms, 0.1), fraction: p.fraction })));
  const width = 900;
  const x = { field: 'minute', type: 'quantitative', title: 'time since the run started (simulated min)' } as const;

  const offered = await svg({
    config: CONFIG,
    width,
    height: 140,
    title: { text: 'Offered load', anchor: 'start', fontSize: 14 },
    data: { values: stepPoints(runs[0]?.timeline ?? [], (w) => w.offeredRps).map((p) => ({ minute: minutes(p.tMs), offered: p.value })) },
    mark: { type: 'area', line: { color: '#4c78a8' }, color: '#c6dbef', interpolate: 'step-after' },
    encoding: { x, y: { field: 'offered', type: 'quantitative', title: 'requests / s' } },
  });
  const p99 = await svg({
    config: CONFIG,
    width,
    height: 220,
    title: { text: `p99 latency per window (${sloTitle})`, anchor: 'start', fontSize: 14 },
    layer: [
      {
        data: { values: perWindow },
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.6, invalid: 'break-paths-filter-domains' },
        encoding: { x, y: { field: 'p99', type: 'quantitative', title: 'p99 (ms, log)', scale: { type: 'log' } }, color: { field: 'policy', type: 'nominal', title: 'scaling / routing', scale: policyScale } },
      },
      { data: { values: slos.map((slo) => ({ slo })) }, mark: { type: 'rule', color: '#d62728', strokeDash: [6, 4], strokeWidth: 1.5 }, encoding: { y: { field: 'slo', type: 'quantitative' } } },
    ],
  });
  // A loop, not Math.min(...spread): a spread of 125,000 values overflows the call stack.
  let minAttain = 0.9;
  for (const w of perWindow) if (w.attainment !== null && w.attainment < minAttain) minAttain = w.attainment;
  const attainment = await svg({
    config: CONFIG,
    width,
    height: 180,
    title: { text: 'Requests within SLO per window', anchor: 'start', fontSize: 14 },
    data: { values: perWindow },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.6, invalid: 'break-paths-filter-domains' },
    encoding: {
      x,
      y: { field: 'attainment', type: 'quantitative', title: 'within SLO', axis: { format: '.0%' }, scale: { domain: [Math.floor(minAttain * 20) / 20, 1] } },
      color: { field: 'policy', type: 'nominal', title: 'scaling / routing', scale: policyScale },
    },
  });
  const typeScale = { domain: types, range: types.map((_, i) => TYPE_PALETTE[i % TYPE_PALETTE.length]!) };
  const fleets: string[] = [];
  for (const r of runs) {
    const values = spend.filter((s) => s.policy === label(r));
    fleets.push(
      await svg({
        config: CONFIG,
        width: 440,
        height: 150,
        title: { text: label(r), anchor: 'start', fontSize: 13 },
        data: { values },
        layer: [
          {
            mark: { type: 'area', interpolate: 'step-after' },
            encoding: {
              x: { ...x, title: 'min' },
              y: { field: 'usd', type: 'quantitative', aggregate: 'sum', stack: 'zero', title: '$/h billed' },
              color: { field: 'type', type: 'nominal', title: 'instance type', scale: typeScale },
              order: { field: 'type' },
            },
          },
          { mark: { type: 'line', color: '#d62728', strokeDash: [6, 4], interpolate: 'step-after' }, encoding: { x: { ...x, title: 'min' }, y: { field: 'budget', type: 'quantitative', aggregate: 'max' } } },
        ],
      }),
    );
  }
  const cdfSvg = await svg({
    config: CONFIG,
    width,
    height: 220,
    title: { text: 'Latency CDF (completed requests)', anchor: 'start', fontSize: 14 },
    layer: [
      {
        data: { values: cdf },
        mark: { type: 'line', strokeWidth: 1.6 },
        encoding: {
          x: { field: 'ms', type: 'quantitative', title: 'latency (ms, log)', scale: { type: 'log' } },
          y: { field: 'fraction', type: 'quantitative', title: 'fraction ≤ latency', axis: { format: '.0%' } },
          color: { field: 'policy', type: 'nominal', title: 'scaling / routing', scale: policyScale },
        },
      },
      { data: { values: slos.map((slo) => ({ slo })) }, mark: { type: 'rule', color: '#d62728', strokeDash: [6, 4] }, encoding: { x: { field: 'slo', type: 'quantitative' } } },
    ],
  });

  const s = report.scenario;
  const best = bestRun(runs);
  const fmtMs = (v: number): string => (v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(v >= 100 ? 0 : 1)} ms`);
  const lat = (r: SimRun, v: number): string => runLatency(r, v, fmtMs);
  // A p99 judged over its target never reads as the target: 350.207 ms against 350 ms is 350.2 ms, not a red 350 ms.
  const p99Text = (r: SimRun): string => {
    const v = r.latencyMs.p99;
    const text = lat(r, v);
    if (p99Slo === undefined || r.requests.completed === 0 || v <= p99Slo || parseFloat(text) * (text.endsWith(' s') ? 1000 : 1) > p99Slo) return text;
    let d = 1;
    while (d < 6 && Number(v.toFixed(d)) <= p99Slo) d++;
    return `${v.toFixed(d)} ms`;
  };
  const rows = runs
    .map((r, i) => {
      // Green when every class meets its own target (fraction within its SLO ≥ its quantile).
      const ok = Object.values(r.perClass).every((c) => c.slo.met);
      const p99Class = p99Slo === undefined ? '' : ` class="${r.requests.completed > 0 && r.latencyMs.p99 <= p99Slo ? 'good' : 'bad'}"`;
      return `<tr${r === best ? ' class="best"' : ''}><td><span class="dot" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(r.policy)}</td><td>${esc(r.router)}</td>
<td>${r.requests.total.toLocaleString('en-US')}</td><td>${lat(r, r.latencyMs.p50)}</td><td${p99Class}>${p99Text(r)}</td><td>${lat(r, r.latencyMs.p999)}</td>
<td class="${ok ? 'good' : 'bad'}">${percent(r.slo.attainment, 2)}</td><td>${r.requests.dropped.toLocaleString('en-US')}</td>
<td>${formatUsd(r.cost.totalUsd)}</td><td>${formatUsd(r.cost.meanUsdPerHour)}</td><td>${formatUsd(r.cost.maxUsdPerHour)}</td><td class="${r.cost.overBudgetSeconds === 0 ? 'good' : 'bad'}">${formatSeconds(r.cost.overBudgetSeconds)}</td></tr>`;
    })
    .join('\n');
  const decisions = runs
    .map(
      (r) => `<details><summary>${esc(label(r))}: ${r.decisions.length}${r.decisions.length >= MAX_DECISIONS ? ' or more' : ''} mix change${r.decisions.length === 1 ? '' : 's'}, ${r.ticks.total} control ticks${r.ticks.failed > 0 ? ` (${r.ticks.failed} failed)` : ''}</summary><table class="log"><tr><th>t (min)</th><th>desired mix</th><th>why</th></tr>
${r.decisions
  .slice(0, SHOWN_DECISIONS)
  .map((d) => `<tr><td>${minutes(d.tMs).toFixed(1)}</td><td>${esc(Object.entries(d.mix).filter(([, n]) => n > 0).map(([t, n]) => `${n}×${t}`).join(' + ') || '(empty)')}</td><td>${esc(d.reason)}</td></tr>`)
  .join('\n')}${r.decisions.length > SHOWN_DECISIONS ? `\n<tr><td colspan="3">the first ${SHOWN_DECISIONS} shown; the JSON has ${r.decisions.length}${r.decisions.length >= MAX_DECISIONS ? ', the most a run keeps' : ''}</td></tr>` : ''}</table></details>`,
    )
    .join('\n');
  const checks = runs
    .map((r) => `<li>${esc(label(r))}: Little's law L = ${r.checks.littleL.toFixed(3)} vs λW = ${r.checks.littleLambdaW.toFixed(3)} (${(r.checks.littleRelativeError * 100).toFixed(3)}% apart); requests in = completed + dropped + in flight: ${r.checks.conservation ? 'holds' : '<b>VIOLATED</b>'}</li>`)
    .join('\n');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mixscale sim — ${esc(s.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;margin:0;background:#f6f8fa}
main{max-width:1040px;margin:0 auto;padding:28px 32px 48px;background:#fff;min-height:100vh;box-shadow:0 0 0 1px #e4e8ee}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 10px;border-bottom:1px solid #e4e8ee;padding-bottom:4px}
.sub{color:#5b6776;margin:0 0 16px}.facts{display:flex;flex-wrap:wrap;gap:8px 18px;color:#39444f;margin:8px 0 4px;padding:0;list-style:none}
.facts b{font-weight:600}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 6px;font-size:13px;border-bottom:1px solid #eef1f4;text-align:right;white-space:nowrap}th{font-weight:600;color:#5b6776;font-size:12px}
td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}
tr.best td{background:#f3f9f1}.good{color:#23803a}.bad{color:#c0392b;font-weight:600}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;vertical-align:-1px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:8px}
figure{margin:8px 0}svg{max-width:100%;height:auto}
details{margin:6px 0}summary{cursor:pointer;color:#39444f}table.log td{text-align:left;white-space:normal;font-size:12px}
.note{color:#5b6776;font-size:12px}
</style></head><body><main>
<h1>Budget simulation: ${esc(s.name)}</h1>
<p class="sub">${runs.length} scaling polic${runs.length === 1 ? 'y' : 'ies'} on the identical arrival sequence (seed ${s.seed}). Best: <b>${esc(best?.policy ?? '-')}</b>.</p>
<ul class="facts"><li><b>Budget</b> ${esc(budgetText(s))} (hard cap, pending instances included)</li>
<li><b>SLO</b> ${s.classes.map((c) => `${esc(c.name)} (${esc(c.model)}) p${Math.round(c.sloQuantile * 1000) / 10} ≤ ${c.sloMs} ms`).join('; ')}</li>
<li><b>Types</b> ${s.pools.map((p) => `${esc(p.type)} ${formatUsd(p.usdPerHour)}/h${p.fast ? ' (GPU)' : ''}`).join(', ')}</li>
<li><b>Load</b> ${esc(s.trace)}</li></ul>
<h2>Comparison</h2>
<table><tr><th>scaling</th><th>routing</th><th>requests</th><th>p50</th><th>p99</th><th>p99.9</th><th>within SLO</th><th>dropped</th><th>cost</th><th>mean $/h</th><th>max $/h</th><th>over budget (s)</th></tr>
${rows}</table>
<p class="note">Within SLO counts every request (dropped ones miss), each against its class's target; it is green when every class meets its own (${classes.map((c) => `${esc(c.name)}: p${Math.round(c.sloQuantile * 1000) / 10} ≤ ${c.sloMs} ms`).join(', ')}).${commonSlo === undefined ? ' The p99 over all classes is not judged: the classes have different targets.' : p99Slo === undefined ? ' The p99 is not judged: the target is not a p99.' : ''} Cost is billed per second with EC2's one-minute minimum; max $/h and over-budget time count pending, running and draining instances.</p>
<h2>Load and latency over time</h2>
<figure>${offered}</figure>
<figure>${p99}</figure>
<figure>${attainment}</figure>
<h2>Fleet: spend by instance type under the budget (dashed)</h2>
<div class="grid">${fleets.map((f) => `<figure>${f}</figure>`).join('\n')}</div>
<h2>Latency distribution</h2>
<figure>${cdfSvg}</figure>
<h2>Scaling decisions</h2>
${decisions}
<h2>Self-checks</h2>
<ul>${checks}</ul>
<p class="note">Generated by mixscale sim from ${esc(s.source)}.</p>
</main></body></html>
`;
}
