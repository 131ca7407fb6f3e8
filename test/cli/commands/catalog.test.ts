import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../support/cli.ts';

describe('mixscale catalog', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-catalog-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--json FILE writes the list to the file, whichever way the flag is given', () => {
    const forms: Array<(file: string) => string[]> = [(f) => ['catalog', '--json', f], (f) => ['catalog', `--json=${f}`], (f) => ['--json', f, 'catalog']];
    forms.forEach((form, i) => {
      const file = join(dir, `types-${i}.json`);
      const r = runCli(form(file));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, '', `${form(file).join(' ')}: nothing on stdout`);
      const out = JSON.parse(readFileSync(file, 'utf8')) as { types: Array<{ type: string }> };
      assert.ok(out.types.some((t) => t.type === 'g4dn.xlarge'));
    });
  });

  it('--json naming a directory is one line naming the flag and the path', () => {
    const r = runCli(['catalog', '--json', dir]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `mixscale: --json: cannot write ${dir}: is a directory\n`);
  });
});
