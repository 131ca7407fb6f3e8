import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceProfiles } from '../../src/catalog/profiles.ts';
import { Rng } from '../../src/core/rng.ts';
import { sizeSampler } from '../../src/core/sizes.ts';
import { openLoop } from './poisson.ts';
import { startMixscale, startNginx, stopAll, tool } from './procs.ts';

/**
 * Heterogeneous backends: 3 × g4dn.xlarge + 6 × r5n.large emulated nodes drawing rm2 service
 * times from the Kairos profiles, Kairos' query-size mixture carried in each request, open-loop
 * Poisson arrivals at a fraction of the mix's capacity. The same arrival sequence goes through
 * nginx least_conn and through mixscale router with each policy asked for.
 *
 * Rounds alternate the order (nginx first, then the router first) so drift in the load of a
 * shared machine does not favour one side; each round gives its own ratio.
 *
 * A policy may carry options as `name:{json}`, e.g. `heterogeneity-aware:{"largeFraction":0.6}`
 * (heterogeneity-aware runs with rejectLate false unless told: a dropped request counts as lost).
 *
 *   npx tsx bench/router/hetero.ts [--seconds 30] [--rounds 2] [--load 0.6] [--policies heterogeneity-aware,least-outstanding]
 *   (a policy's options may include "lateBinding": true or false, set as routing.lateBinding,
 *    default true: --policies 'heterogeneity-aware,heterogeneity-aware:{"lateBinding":false}')
 */
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
}
const SECONDS = Number(arg('seconds', '30'));
const ROUNDS = Number(arg('rounds', '2'));
const LOAD = Number(arg('load', '0.6'));
const POLICIES = arg('policies', 'heterogeneity-aware')
  .split(/,(?![^{]*})/)
  .map((spec) => {
    const i = spec.indexOf(':');
    const name = i < 0 ? spec : spec.slice(0, i);
    const { lateBinding, ...options } = i < 0 ? {} : (JSON.parse(spec.slice(i + 1)) as Record<string, unknown>);
    return { name, options: name === 'heterogeneity-aware' ? { rejectLate: false, ...options } : options, lateBinding: typeof lateBinding === 'boolean' ? lateBinding : undefined, label: spec };
  });
const SEED = 2026;
const FLEET = [...Array<string>(3).fill('g4dn.xlarge'), ...Array<string>(6).fill('r5n.large')];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

if (!tool('nginx')) {
  process.stderr.write('bench/router: nginx is not installed (apt-get install -y nginx)\n');
  process.exit(2);
}

/** Requests per second the fleet serves at full utilization, for Kairos' size mixture. */
function capacityRps(): number {
  const profiles = ServiceProfiles.load();
  const draw = sizeSampler({ kind: 'kairos' });
  const rng = new Rng(1);
  const meanMs = new Map<string, number>();
  for (const type of new Set(FLEET)) {
    const t = profiles.table(type, 'rm2');
    let s = 0;
    for (let i = 0; i < 20_000; i++) s += t.meanMs(draw(rng));
    meanMs.set(type, s / 20_000);
  }
  return FLEET.reduce((a, type) => a + 1000 / meanMs.get(type)!, 0);
}

const dir = mkdtempSync(join(tmpdir(), 'mixscale-bench-'));
try {
  const capacity = capacityRps();
  const rps = LOAD * capacity;
  process.stderr.write(`capacity ${capacity.toFixed(1)} rps; offering ${rps.toFixed(1)} rps for ${SECONDS}s\n`);
  const nodes = await Promise.all(FLEET.map((type, i) => startMixscale(['node', 'emulated', '--type', type, '--model', 'rm2', '--seed', String(i + 1)])));
  const size = sizeSampler({ kind: 'kairos' });
  const run = async (name: string, target: string) => {
    const r = await openLoop(target, { rps, seconds: SECONDS, warmupS: 5, seed: SEED, size });
    const row = { target: name, sent: r.sent, lost: r.lost, p50Ms: r.latency.quantile(0.5), p99Ms: r.latency.quantile(0.99), p999Ms: r.latency.quantile(0.999), meanMs: r.latency.meanMs };
    process.stderr.write(`${name}: p50 ${row.p50Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms, lost ${row.lost} of ${row.sent}\n`);
    return row;
  };
  const nginxUrl = await startNginx(dir, await freePort(), nodes);
  const routers: Array<[string, string]> = [];
  for (const [k, policy] of POLICIES.entries()) {
    const config = join(dir, `router-${k}.yaml`);
    writeFileSync(
      config,
      `budget: { usdPerHour: 5 }
classes: [{ name: interactive, model: rm2, slo: 350ms }]
pools: [{ name: gpu, type: g4dn.xlarge }, { name: cpu, type: r5n.large }]
routing: { policy: ${policy.name}, options: ${JSON.stringify(policy.options)}${policy.lateBinding !== undefined ? `, lateBinding: ${policy.lateBinding}` : ''} }
router:
  adminToken: bench-admin-token-0123456789
  maxOutstanding: 1000
  backends:
${nodes.map((u, i) => `    - { id: n${i}, url: "${u}", type: ${FLEET[i]} }`).join('\n')}
`,
    );
    routers.push([`router ${policy.label}`, await startMixscale(['--config', config, 'router', '--port', '0'])]);
  }
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order: Array<[string, string]> = r % 2 === 0 ? [['nginx least_conn', nginxUrl], ...routers] : [...routers, ['nginx least_conn', nginxUrl]];
    const rows = [];
    for (const [name, url] of order) rows.push(await run(name, url));
    const nginx = rows.find((x) => x.target === 'nginx least_conn')!;
    rounds.push({ rows, p99VsNginx: Object.fromEntries(rows.filter((x) => x !== nginx).map((x) => [x.target, x.p99Ms / nginx.p99Ms])) });
  }
  const summary = {
    fleet: '3×g4dn.xlarge + 6×r5n.large (emulated, Kairos rm2 profiles)',
    capacityRps: capacity,
    offeredRps: rps,
    seconds: SECONDS,
    rounds,
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
} finally {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
}
