import { Pool } from 'undici';
import { LatencyHistogram } from '../../src/core/histogram.ts';
import { Rng } from '../../src/core/rng.ts';
import type { SizeSampler } from '../../src/core/sizes.ts';

export interface OpenLoopResult {
  readonly sent: number;
  readonly ok: number;
  /** Non-200 answers and transport errors. */
  readonly lost: number;
  readonly latency: LatencyHistogram;
}

/**
 * Open-loop Poisson load: arrivals at `rps` regardless of how fast answers come back (a
 * closed-loop tool such as wrk would slow down with the server and hide its tail). Each
 * request carries its size as `parameters.size`; latencies of arrivals after `warmupS` count.
 */
export async function openLoop(target: string, opts: { rps: number; seconds: number; warmupS: number; seed: number; size: SizeSampler }): Promise<OpenLoopResult> {
  const pool = new Pool(target, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const rng = new Rng(opts.seed);
  const latency = new LatencyHistogram();
  let sent = 0;
  let ok = 0;
  let lost = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  let due = 0;
  const endMs = opts.seconds * 1000;
  while (due < endMs) {
    due += rng.exponential(opts.rps) * 1000;
    const size = opts.size(rng);
    const wait = t0 + due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const counted = due >= opts.warmupS * 1000;
    const start = performance.now();
    sent++;
    const p = pool
      .request({ path: '/v2/models/rm2/infer', method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"parameters":{"size":${size}}}` })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 200) {
          ok++;
          if (counted) latency.record(performance.now() - start);
        } else lost++;
      })
      .catch(() => {
        lost++;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  await pool.close();
  return { sent, ok, lost, latency };
}
