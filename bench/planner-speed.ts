/**
 * Planner speed: one planMix decision for 20 instance types × 3 request classes at $100/h
 * (bench/synthetic-types.ts says how the 16 unmeasured types were synthesized).
 * Run: npx tsx bench/planner-speed.ts   (TAIL_SLACK=0 sets the planner's tailSlack, EXACT_LIMIT its exactLimit)
 */
import { Catalog } from '../src/catalog/catalog.ts';
import { ServiceProfiles } from '../src/catalog/profiles.ts';
import { planMix } from '../src/control/planner.ts';
import { Rng } from '../src/core/rng.ts';
import { sizePmf } from '../src/core/sizes.ts';
import { formatMix } from '../src/core/types.ts';
import { syntheticCandidates } from './synthetic-types.ts';

const candidates = syntheticCandidates(Catalog.load(), ServiceProfiles.load());
const classes = [
  { name: 'rm2', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 },
  { name: 'wnd', model: 'wnd', sloMs: 25, sloQuantile: 0.99, share: 1 },
  { name: 'ncf', model: 'ncf', sloMs: 5, sloQuantile: 0.99, share: 1 },
];
const sizes = sizePmf({ kind: 'kairos' }, new Rng(1));
const rpsArg = Number(process.argv[2] ?? 2000);
const tailSlack = process.env['TAIL_SLACK'] === undefined ? undefined : Number(process.env['TAIL_SLACK']);
if (tailSlack !== undefined && !(tailSlack >= 0)) throw new Error(`TAIL_SLACK: expected a number ≥ 0, got ${process.env['TAIL_SLACK']}`);
const loads = [0.25, 0.5, 1].map((f) => ({ atMs: 0, windowMs: 60_000, classes: classes.map((c) => ({ name: c.name, rps: rpsArg * f, sizes })) }));

const times: number[] = [];
for (let round = 0; round < 5; round++) {
  for (const load of loads) {
    const t0 = performance.now();
    const p = planMix({ budgetUsdPerHour: 100, classes, candidates, load, options: { exactLimit: Number(process.env.EXACT_LIMIT ?? 4000), ...(tailSlack !== undefined ? { tailSlack } : {}) } });
    const dt = performance.now() - t0;
    if (round > 0) times.push(dt);
    if (round === 4) {
      const rps = load.classes.reduce((a, c) => a + c.rps, 0);
      process.stdout.write(`${rps} rps total: ${p.search} search, ${p.evaluated} mixes, ${dt.toFixed(1)} ms → ${formatMix(p.mix)} ($${p.usdPerHour.toFixed(2)}/h), score ${p.score.toFixed(3)}\n`);
    }
  }
}
times.sort((a, b) => a - b);
process.stdout.write(`planMix, 20 types × 3 classes at $100/h: median ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms, max ${times[times.length - 1]!.toFixed(1)} ms over ${times.length} decisions (after one warm-up round)\n`);
