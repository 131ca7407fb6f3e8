import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.ts';
import { candidatesFromConfig } from '../../src/control/candidates.ts';
import { runCli } from '../support/cli.ts';

describe('candidatesFromConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mixscale-candidates-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses two pools of one type, naming the file, the line and the second pool (mixes are sized by type)', () => {
    const config = join(dir, 'shared.yaml');
    writeFileSync(
      config,
      [
        'budget: { usdPerHour: 2.5 }',
        'classes: [{ name: rm2, model: rm2, slo: 350ms }]',
        'pools:',
        '  - { name: a, type: r5n.large }',
        '  - { name: gpu, type: g4dn.xlarge }',
        '  - { name: b, type: r5n.large }',
        '',
      ].join('\n'),
    );
    // The router alone may have them (static backends name their pool): the config loads.
    const loaded = loadConfigFile(config);
    const want = `${config}:6: pools[2].type: pool "b" has type r5n.large, as pool "a" (pools[0]) has; mixes are sized by type`;
    assert.throws(() => candidatesFromConfig(loaded), (e: Error) => e.message.startsWith(want));
    // Every command that plans says so in one line and exits 2.
    for (const args of [['plan', '--rps', '10'], ['sim', '--trace', 'sim/scenarios/traces/servegen-deepseek-r1-day.csv', '--duration', '1m']]) {
      const r = runCli(['--config', config, ...args]);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.ok(r.stderr.startsWith(`mixscale: ${want}`), r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
