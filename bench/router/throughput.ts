import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMixscale, startNginx, startScript, stopAll, tool, wrk, type WrkResult } from './procs.ts';

/**
 * Proxy overhead: wrk drives tiny OIP inference requests at (1) an echo backend directly,
 * (2) nginx least_conn with keep-alive upstreams, (3) mixscale router with the lean hot path,
 * (4) mixscale router with every request through express, (5) a bare node proxy (a minimal
 * node proxy for scale: bare-proxy.ts). Throughput at 32 connections;
 * median latency at 1 connection (no queueing), compared with direct.
 *
 * The machine is shared, so each target is measured in several interleaved rounds and the best
 * round counts (highest throughput, lowest median): the least disturbed measurement of each.
 *
 *   npx tsx bench/router/throughput.ts [--seconds 5] [--rounds 3]
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const SECONDS = Number(arg('seconds', '5'));
const ROUNDS = Number(arg('rounds', '3'));
const CONNECTIONS = 32;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

for (const t of ['wrk', 'nginx']) {
  if (!tool(t)) {
    process.stderr.write(`bench/router: ${t} is not installed (apt-get install -y wrk nginx)\n`);
    process.exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mixscale-bench-'));
try {
  const backends = JSON.parse(await startScript(fileURLToPath(new URL('./echo-backend.ts', import.meta.url)), ['2'])) as string[];
  const lua = join(dir, 'post.lua');
  const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }], parameters: { size: 10 } });
  writeFileSync(lua, `wrk.method = "POST"\nwrk.path = "/v2/models/rm2/infer"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\n`);
  const config = join(dir, 'router.yaml');
  // Binding at arrival, as nginx does: this measures the proxy, not a one-request-per-slot limit.
  writeFileSync(
    config,
    `budget: { usdPerHour: 5 }
classes: [{ name: interactive, model: rm2, slo: 300ms }]
pools: [{ name: cpu, type: r5n.large }]
routing: { policy: least-outstanding, lateBinding: false }
router:
  adminToken: bench-admin-token-0123456789
  maxOutstanding: 1024
  backends:
${backends.map((u, i) => `    - { id: echo${i}, url: "${u}", type: r5n.large }`).join('\n')}
`,
  );
  const lean = await startMixscale(['--config', config, 'router', '--port', '0', '--hot-path', 'lean']);
  const viaExpress = await startMixscale(['--config', config, 'router', '--port', '0', '--hot-path', 'express']);
  const nginx = await startNginx(dir, await freePort(), backends);
  const bare = await startScript(fileURLToPath(new URL('./bare-proxy.ts', import.meta.url)), [backends[0]!]);

  const targets: Array<[string, string]> = [
    ['direct', backends[0]!],
    ['nginx least_conn', nginx],
    ['router (lean)', lean],
    ['router (express)', viaExpress],
    ['bare node proxy', bare],
  ];
  const rows = targets.map(([target]) => ({ target, rps: 0, p50Ms1: Infinity, p99Ms: Infinity, bad: 0, rounds: [] as number[] }));
  for (const [, url] of targets) wrk(url, lua, CONNECTIONS, 2); // warm-up (JIT, connection pools)
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, url] of r % 2 === 0 ? targets : [...targets].reverse()) {
      const row = rows.find((x) => x.target === name)!;
      const tput: WrkResult = wrk(url, lua, CONNECTIONS, SECONDS);
      const lat: WrkResult = wrk(url, lua, 1, SECONDS);
      row.rounds.push(Math.round(tput.rps));
      row.rps = Math.max(row.rps, tput.rps);
      row.p50Ms1 = Math.min(row.p50Ms1, lat.p50Ms);
      row.p99Ms = Math.min(row.p99Ms, tput.p99Ms);
      row.bad += tput.non2xx + tput.errors + lat.non2xx + lat.errors;
      process.stderr.write(`round ${r + 1} ${name}: ${tput.rps.toFixed(0)} req/s, median ${lat.p50Ms.toFixed(3)} ms at 1 connection\n`);
    }
  }
  const get = (n: string) => rows.find((r) => r.target === n)!;
  const direct = get('direct');
  const nginxRow = get('nginx least_conn');
  const summary = {
    connections: CONNECTIONS,
    seconds: SECONDS,
    rounds: ROUNDS,
    rows,
    throughputVsNginx: { lean: get('router (lean)').rps / nginxRow.rps, express: get('router (express)').rps / nginxRow.rps, bareNode: get('bare node proxy').rps / nginxRow.rps },
    addedMedianMs: { bareNode: get('bare node proxy').p50Ms1 - direct.p50Ms1, nginx: nginxRow.p50Ms1 - direct.p50Ms1, lean: get('router (lean)').p50Ms1 - direct.p50Ms1, express: get('router (express)').p50Ms1 - direct.p50Ms1 },
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
}
