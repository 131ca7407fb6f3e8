import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMixscaleError } from '../../src/core/errors.ts';
import { readStatus, writeStatus, type ControllerStatus } from '../../src/control/status.ts';

describe('controller status file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-status-'));
    file = join(dir, 'controller-c.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the file and the field when valid JSON has the wrong shape', () => {
    const good = { cluster: 'c', provider: 'local', pid: 7, updatedAtMs: 1, ticks: [] };
    for (const [value, what] of [
      [null, /: expected object, received null/],
      [{}, /: cluster: expected string/],
      [{ ...good, ticks: 5 }, /: ticks: expected array, received number/],
      [{ ...good, updatedAtMs: 'soon' }, /: updatedAtMs: expected number/],
      [{ ...good, ticks: [{ seq: 1, status: 'ok', actions: [] }] }, /: ticks\.0\.atMs: expected number/],
      // controller status prints movingTo as a mix: checked as `mix` is.
      [{ ...good, ticks: [{ seq: 1, atMs: 1, status: 'ok', actions: [], mix: { a: 1 }, movingTo: null }] }, /: ticks\.0\.movingTo: expected record, received null/],
      [{ ...good, ticks: [{ seq: 1, atMs: 1, status: 'ok', actions: [], mix: { a: 1 }, movingTo: { a: 'two' } }] }, /: ticks\.0\.movingTo\.a: expected number/],
    ] as const) {
      writeFileSync(file, JSON.stringify(value));
      assert.throws(
        () => readStatus(file),
        (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_USAGE' && e.message.startsWith(`controller status ${file}`) && what.test(e.message) && !e.message.includes('\n'),
        JSON.stringify(value),
      );
    }
  });

  it('reads back what a controller wrote, and nothing without a file', () => {
    assert.equal(readStatus(file), undefined);
    const status: ControllerStatus = {
      cluster: 'c',
      provider: 'local',
      pid: 7,
      updatedAtMs: 1000,
      ticks: [{ seq: 1, atMs: 900, status: 'ok', budgetUsdPerHour: 1.5, mix: { 'r5n.large': 2 }, actions: ['launch 2×r5n.large: deficit 2'], failures: [], dryRun: false }],
      draining: { 'local-0001': 950 },
    };
    writeStatus(file, status);
    assert.deepEqual(readStatus(file), status);
  });
});
