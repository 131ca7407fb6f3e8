/**
 * CLI start-up: how long a command takes to start (its `--help`, which loads the command and
 * exits) against `mixscale --help`, which loads every command. Each command's module and what
 * it imports load only when that command runs (src/cli/main.ts), so the ratio says what the
 * lazy loading saves. Rounds alternate the commands, so a busy spell on this shared machine
 * falls on all of them.
 * Run: npx tsx bench/cli-startup.ts [rounds]   (default 5)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/mixscale.js', import.meta.url));
const rounds = Number(process.argv[2] ?? 5);
if (!(Number.isInteger(rounds) && rounds > 0)) throw new Error(`rounds: expected a positive integer, got ${process.argv[2]}`);
const runs: Array<[string, string[]]> = [
  ['every command (mixscale --help)', ['--help']],
  ...['sim', 'plan', 'controller', 'router', 'node', 'load', 'catalog'].map((c): [string, string[]] => [c, [c, '--help']]),
];

const times = new Map<string, number[]>(runs.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, args] of runs) {
    const t0 = performance.now();
    const p = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (p.status !== 0) throw new Error(`${args.join(' ')}: exit ${p.status}: ${p.stderr}`);
    times.get(name)!.push(ms);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const all = median(times.get(runs[0]![0])!);
process.stdout.write(`| start-up of | median ms (${rounds} rounds) | against every command |\n|---|---:|---:|\n`);
for (const [name] of runs) {
  const m = median(times.get(name)!);
  process.stdout.write(`| ${name} | ${m.toFixed(0)} | ${(m / all).toFixed(2)} |\n`);
}
