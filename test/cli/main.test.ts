import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonBeforeCommand } from '../../src/cli/main.ts';
import { runCli } from '../support/cli.ts';

describe('mixscale CLI', () => {
  it('--help lists the commands and examples', () => {
    const r = runCli(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['sim', 'plan', 'controller', 'router', 'node', 'catalog']) assert.match(r.stdout, new RegExp(`\\n  ${c}\\b`));
    assert.match(r.stdout, /Examples:/);
  });

  it('--version prints the package version', () => {
    const r = runCli(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  it('catalog --json lists the profiled types with prices and coverage', () => {
    const r = runCli(['catalog', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { types: Array<{ type: string; usdPerHour: number; profiledModels: string[] }> };
    const g = out.types.find((t) => t.type === 'g4dn.xlarge');
    assert.equal(g?.usdPerHour, 0.526);
    assert.ok(g?.profiledModels.includes('rm2'));
    assert.equal(out.types.length, 4);
  });

  it('a bad config exits 2 with one line naming the field, and no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-cli-'));
    const p = join(dir, 'bad.yaml');
    writeFileSync(p, 'budget:\n  usdPerHour: -1\nclasses:\n  - {name: a, model: rm2, slo: 350}\npools:\n  - {name: f, type: g4dn.xlarge}\n');
    const r = runCli(['--config', p, 'catalog']);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /bad\.yaml:2: budget\.usdPerHour: .*got -1/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('--json before the command name means JSON to stdout, not a file named after the command', () => {
    const r = runCli(['--json', 'catalog', '--family', 'g4dn']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((JSON.parse(r.stdout) as { types: Array<{ type: string }> }).types.some((t) => t.type === 'g4dn.xlarge'));
    assert.deepEqual(jsonBeforeCommand(['node', 'mixscale', '--json', 'node', 'emulated', '--type', 't'], ['node', 'sim']), ['node', 'mixscale', 'node', 'emulated', '--type', 't', '--json']);
    // A file named before the command is a file.
    assert.deepEqual(jsonBeforeCommand(['node', 'mixscale', '--json', 'out.json', 'sim'], ['sim']), ['node', 'mixscale', '--json', 'out.json', 'sim']);
  });

  it('an unknown option is a usage error (exit 2)', () => {
    const r = runCli(['catalog', '--frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
  });
});
