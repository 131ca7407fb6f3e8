import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../support/cli.ts';

describe('mixscale load', () => {
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
});
