import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerLoad } from '../../../src/cli/commands/load.ts';
import { runCli } from '../../support/cli.ts';
import { freePort } from '../../support/local-system.ts';

/** Runs `fn` on a trace file holding `csv`, in a folder removed afterwards. */
function withTrace(csv: string, fn: (trace: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-cli-'));
  try {
    const trace = join(dir, 't.csv');
    writeFileSync(trace, csv);
    fn(trace);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('mixscale load', () => {
  it('--help shows the --timeout default as a duration, as it is typed (30s), and the default is still 30 s', () => {
    const r = runCli(['load', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /--timeout <duration> +per-request timeout \(default: 30s\)\n/);
    const program = new Command();
    registerLoad(program);
    const timeout = program.commands.find((c) => c.name() === 'load')?.options.find((o) => o.long === '--timeout');
    assert.equal(timeout?.defaultValue, 30_000);
  });

  it('no command --help shows a duration flag\'s default in ms', function () {
    this.timeout(120_000); // ten CLI starts: over 20 s on a loaded machine
    for (const args of [['load'], ['sim'], ['plan'], ['router'], ['controller'], ['controller', 'status'], ['controller', 'down'], ['node', 'edge'], ['node', 'emulated'], ['catalog']]) {
      const help = runCli([...args, '--help']).stdout;
      for (const option of help.split(/\n(?=  -)/).filter((o) => /^ +-.*<duration>/.test(o))) assert.doesNotMatch(option, /default: \d+\)/, `${args.join(' ')}: ${option}`);
    }
  });

  it('loads and validates --config even when --target says where to send, before sending anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-load-cli-'));
    try {
      const trace = join(dir, 't.csv');
      writeFileSync(trace, 't_ms\n0\n');
      const missing = join(dir, 'nonexist.yaml');
      const r = runCli(['load', '--config', missing, '--trace', trace, '--target', 'http://127.0.0.1:9', '--no-progress']);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `mixscale: cannot read config ${missing}: no such file\n`);
      assert.equal(r.stdout, '', 'nothing was sent');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('--wait-ready fails (exit 1) naming the readiness URL and why, before sending anything, when the target never gets ready', async () => {
    const port = await freePort(); // nothing listens there
    withTrace('t_ms,size\n0,10\n', (trace) => {
      const r = runCli(['load', '--trace', trace, '--target', `http://127.0.0.1:${port}`, '--no-progress', '--wait-ready', '2s']);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '', 'no report: nothing was sent');
      assert.match(r.stderr, new RegExp(`^load: waiting up to 2s for http://127\\.0\\.0\\.1:${port}/v2/models/rm2/ready\nmixscale: load: http://127\\.0\\.0\\.1:${port}/v2/models/rm2/ready was not ready within 2s \\(--wait-ready; last: ECONNREFUSED\\)\n$`));
    });
  });

  it('prints no percentiles, not 0 ms, for a class with no successful answer', async () => {
    const port = await freePort(); // nothing listens there
    withTrace('t_ms,size\n0,10\n10,20\n20,30\n', (trace) => {
      const r = runCli(['load', '--trace', trace, '--target', `http://127.0.0.1:${port}`, '--model', 'rm2', '--no-progress']);
      assert.equal(r.code, 1, r.stderr);
      const json = runCli(['load', '--trace', trace, '--target', `http://127.0.0.1:${port}`, '--model', 'rm2', '--no-progress', '--json']);
      const report = JSON.parse(json.stdout.slice(json.stdout.indexOf('{'))) as { classes: Record<string, { ok: number; latencyMs: unknown }> };
      for (const c of Object.values(report.classes)) assert.equal(c.latencyMs, null);
      assert.match(r.stdout, /\n\S+\s+3\s+0\s+3\s+-\s+-\s+-\s+-\s+-\n/, r.stdout);
      assert.doesNotMatch(r.stdout, /\b0\.0\s+0\.0\b/);
    });
  });
});
