/**
 * Predictive vs reactive exit control on the real digits CNN: the same open-loop Poisson
 * load of real test digits, each request carrying the same latency bound, against an edge
 * node started with `--policy predictive` and one with `--policy reactive` (one at a time,
 * each in its own process, so they do not share the CPU). Reports, per rate and policy, the
 * share of requests whose server-side elapsed time stayed within the bound, the accuracy of
 * the answers, and the exits taken; and the load generator's own view (latency from each
 * request's intended send time), which also counts the wait before the node reads a request.
 *
 *   npx tsx bench/edge-exit.ts [--bound 10] [--rates 40,80,120] [--seconds 15] [--percentile 0.99] [--nice 10] [--policies predictive,reactive]
 *
 * --nice lowers the load generator's priority so that it does not take the node's CPU on a
 * small machine (it stands in for remote clients).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RealClock } from '../src/core/clock.ts';
import { PayloadBuilder } from '../src/load/payload.ts';
import { replayTrace } from '../src/load/replay.ts';

const BIN = fileURLToPath(new URL('../bin/mixscale.js', import.meta.url));
const { values } = parseArgs({ options: { bound: { type: 'string', default: '10' }, rates: { type: 'string', default: '40,80,120' }, seconds: { type: 'string', default: '15' }, confidence: { type: 'string', default: '0.95' }, percentile: { type: 'string', default: '0.99' }, nice: { type: 'string', default: '0' }, policies: { type: 'string', default: 'predictive,reactive' } } });
// The load generator stands in for remote clients: with --nice N it yields the CPU to the node.
if (Number(values.nice) !== 0) setPriority(Number(values.nice));
const bound = Number(values.bound);
const rates = values.rates.split(',').map(Number);
const seconds = Number(values.seconds);

function startNode(policy: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, '--log-level', 'warn', 'node', 'edge', '--port', '0', '--policy', policy, '--percentile', values.percentile, '--confidence', values.confidence, '--warmup-runs', '100'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve({ child, url: (JSON.parse(l) as { listening: string }).listening }));
    child.once('exit', (c) => reject(new Error(`edge node exited ${c}`)));
  });
}

interface Row {
  policy: string;
  rps: number;
  answered: number;
  withinBound: number;
  accuracy: number;
  /** Correct and within the bound, over all answered: a late answer counts as a miss. */
  timelyAccuracy: number;
  exits: [number, number, number];
  p50: number;
  p99: number;
  failed: number;
  reasons: Record<string, number>;
  /** Late answers by exit taken, and how many of them had already waited past half the bound before their first stage. */
  late: { byExit: [number, number, number]; queued: number };
  /** The node's measured stage times at the end of the run. */
  stages: string;
  /** Share answered within the bound and p99 as the load generator saw them (from the intended send time). */
  client: { within: number; p99: number };
}

/** The q-quantile of sorted values (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

async function run(policy: string, rps: number, dir: string): Promise<Row> {
  const trace = join(dir, `rate-${rps}.csv`);
  writeFileSync(trace, `t_s,rps\n0,${rps}\n${seconds},${rps}\n`);
  const { child, url } = await startNode(policy);
  const payload = new PayloadBuilder({ kind: 'digits', parameters: { latency_ms: bound } });
  let within = 0;
  let correct = 0;
  let timely = 0;
  let answered = 0;
  const exits: [number, number, number] = [0, 0, 0];
  const elapsed: number[] = [];
  const seen: number[] = [];
  const reasons: Record<string, number> = {};
  const late: Row['late'] = { byExit: [0, 0, 0], queued: 0 };
  let stages = '';
  try {
    const report = await replayTrace(
      {
        trace: { path: trace, durationMs: seconds * 1000, seed: 7 },
        target: url,
        model: 'digits-cnn',
        payload,
        seed: 7,
        onResponse: (r) => {
          if (r.status !== 200) return;
          const b = r.body as { id: string; parameters: { exit: number; exit_reason: string; elapsed_ms: number; queue_ms: number; honoured: { latency_ms: boolean } }; outputs: Array<{ name: string; data: number[] }> };
          answered++;
          seen.push(r.latencyMs);
          reasons[b.parameters.exit_reason] = (reasons[b.parameters.exit_reason] ?? 0) + 1;
          if (b.parameters.honoured.latency_ms) within++;
          else {
            late.byExit[b.parameters.exit - 1]!++;
            if (b.parameters.queue_ms > bound / 2) late.queued++;
          }
          exits[b.parameters.exit - 1]!++;
          elapsed.push(b.parameters.elapsed_ms);
          const label = b.outputs.find((o) => o.name === 'label')!.data[0];
          if (label === payload.truth(b.id)[0]) {
            correct++;
            if (b.parameters.honoured.latency_ms) timely++;
          }
        },
      },
      new RealClock(),
    );
    // The node's own view of its stages at the end of the run (one row, the window it plans with).
    const meta = (await (await fetch(`${url}/v2/models/digits-cnn`)).json()) as { parameters: { batch_rows: number; exits: Array<{ stage_p50_ms: number; stage_p99_ms: number }> } };
    stages = `batch ${meta.parameters.batch_rows}, stage p50/p99 ${meta.parameters.exits.map((e) => `${e.stage_p50_ms.toFixed(1)}/${e.stage_p99_ms.toFixed(1)}`).join(', ')} ms`;
    elapsed.sort((a, b) => a - b);
    seen.sort((a, b) => a - b);
    return {
      policy,
      rps,
      answered,
      withinBound: within / answered,
      accuracy: correct / answered,
      timelyAccuracy: timely / answered,
      exits,
      p50: quantile(elapsed, 0.5),
      p99: quantile(elapsed, 0.99),
      failed: report.failed,
      reasons,
      late,
      stages,
      client: { within: seen.filter((ms) => ms <= bound).length / answered, p99: quantile(seen, 0.99) },
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mixscale-edge-bench-'));
try {
  const rows: Row[] = [];
  for (const rps of rates) {
    for (const policy of values.policies.split(',')) {
      const r = await run(policy, rps, dir);
      rows.push(r);
      process.stderr.write(`${policy} @ ${rps} rps: ${(r.withinBound * 100).toFixed(2)}% within ${bound} ms, accuracy ${(r.accuracy * 100).toFixed(2)}% (timely ${(r.timelyAccuracy * 100).toFixed(2)}%), exits ${r.exits.join('/')}, elapsed p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms, exit reasons ${JSON.stringify(r.reasons)}, late by exit ${r.late.byExit.join('/')} (${r.late.queued} queued over half the bound); ${r.stages}; client-side ${(r.client.within * 100).toFixed(2)}% within, p99 ${r.client.p99.toFixed(2)} ms\n`);
    }
  }
  console.log(`| rate (rps) | policy | answered | within ${bound} ms | accuracy | correct and in time | exits 1 / 2 / 3 | elapsed p50 | elapsed p99 | exit reasons | late by exit (queued > bound/2) | client-side within ${bound} ms | client p99 |`);
  console.log('|---:|---|---:|---:|---:|---:|---|---:|---:|---|---|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.rps} | ${r.policy} | ${r.answered}${r.failed > 0 ? ` (+${r.failed} failed)` : ''} | ${(r.withinBound * 100).toFixed(2)}% | ${(r.accuracy * 100).toFixed(2)}% | ${(r.timelyAccuracy * 100).toFixed(2)}% | ${r.exits.join(' / ')} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${Object.entries(r.reasons).map(([k, v]) => `${k} ${v}`).join(', ')} | ${r.late.byExit.join(' / ')} (${r.late.queued}) | ${(r.client.within * 100).toFixed(2)}% | ${r.client.p99.toFixed(2)} ms |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
