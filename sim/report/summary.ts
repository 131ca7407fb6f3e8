import { renderTable } from '../../src/cli/table.ts';
import { formatSeconds, formatUsd } from '../../src/core/units.ts';
import { bestRun, percent, runLatency, type SimReport, type SimRun } from '../result.ts';

function ms(v: number): string {
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}s` : `${v.toFixed(v >= 100 ? 0 : 1)}ms`;
}

function pct(v: number): string {
  return percent(v, v >= 0.999 && v < 1 ? 2 : 1);
}

/** The budget, with its schedule's entries when it has one: a scheduled budget may be in force from the start, which the base alone would hide. */
export function budgetText(s: SimReport['scenario']): string {
  const schedule = (s.budgetSchedule ?? []).map((e) => `${formatUsd(e.usdPerHour)}/h from "${e.cron}"`);
  return `${formatUsd(s.budgetUsdPerHour)}/h${schedule.length > 0 ? ` (scheduled, UTC: ${schedule.join(', ')})` : ''}`;
}

/** The human summary: the scenario in a line, then one row per policy. */
export function renderSummary(report: SimReport): string {
  const s = report.scenario;
  const cls = s.classes.map((c) => `${c.name} (${c.model}) p${Math.round(c.sloQuantile * 1000) / 10} ≤ ${c.sloMs}ms`).join(', ');
  const head = [
    `scenario ${s.name}: budget ${budgetText(s)}, ${cls}`,
    `types: ${s.pools.map((p) => `${p.type} ${formatUsd(p.usdPerHour)}/h${p.fast ? ' (fast)' : ''}`).join(', ')}`,
    `load: ${s.trace}, seed ${s.seed}`,
    '',
  ];
  const lat = (r: SimRun, v: number): string => runLatency(r, v, ms);
  const rows = report.runs.map((r) => [
    r.policy,
    r.router,
    String(r.requests.total),
    lat(r, r.latencyMs.p50),
    lat(r, r.latencyMs.p99),
    lat(r, r.latencyMs.p999),
    pct(r.slo.attainment),
    String(r.requests.dropped),
    formatUsd(r.cost.totalUsd),
    formatUsd(r.cost.meanUsdPerHour),
    formatUsd(r.cost.maxUsdPerHour),
    formatSeconds(r.cost.overBudgetSeconds),
  ]);
  const table = renderTable(['scaling', 'routing', 'requests', 'p50', 'p99', 'p99.9', 'within SLO', 'dropped', 'cost', 'mean $/h', 'max $/h', 'over budget s'], rows);
  const best = bestRun(report.runs);
  const tail = best !== undefined && report.runs.length > 1 ? [``, `best: ${best.policy} (${pct(best.slo.attainment)} within SLO, p99 ${lat(best, best.latencyMs.p99)})`] : [];
  return [...head, table, ...tail].join('\n');
}
