import assert from 'node:assert/strict';
import { loadConfigObject } from '../../../src/config/load.ts';
import { renderHtml } from '../../../sim/report/html.ts';
import { buildReport, reportJson } from '../../../sim/report/json.ts';
import { renderSummary } from '../../../sim/report/summary.ts';
import { runSimulation } from '../../../sim/runner.ts';
import type { SimReport } from '../../../sim/result.ts';

const loaded = loadConfigObject({
  budget: { usdPerHour: 2.5 },
  classes: [{ name: 'rm2', model: 'rm2', slo: '350ms' }],
  pools: [
    { name: 'gpu', type: 'g4dn.xlarge' },
    { name: 'r5n', type: 'r5n.large' },
  ],
  routing: { policy: 'least-outstanding' },
  sim: { rps: 30, duration: '5m' },
});

async function report(): Promise<SimReport> {
  const runs = [];
  for (const p of ['homogeneous-fast', 'homogeneous-cheap']) runs.push(await runSimulation(loaded, { scalingPolicy: p, seed: 2 }));
  return buildReport(loaded, runs, { name: 'tiny', trace: 'constant 30 rps', seed: 2 });
}

describe('simulation reports', () => {
  it('summarize one row per policy with the scenario on top', async () => {
    const text = renderSummary(await report());
    assert.match(text, /^scenario tiny: budget \$2\.50\/h, rm2 \(rm2\) p99 ≤ 350ms/);
    assert.match(text, /\nhomogeneous-fast\s+least-outstanding\s+\d+/);
    assert.match(text, /\nhomogeneous-cheap\s+least-outstanding\s+\d+/);
    assert.match(text, /\nbest: /);
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
});
