import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutputFile, positiveInteger, positiveNumber, writeOutputFile } from '../../src/cli/context.ts';
import { isMixscaleError } from '../../src/core/errors.ts';

/** The usage error `fn` throws: one line naming the flag and the path. */
function usage(fn: () => void, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isMixscaleError(e), String(e));
    assert.equal(e.code, 'MIXSCALE_USAGE');
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /\n/);
    return true;
  });
}

describe('cli context: output files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-ctx-'));

  it('accepts a new file in an existing folder, and an existing file', () => {
    checkOutputFile('--json', join(dir, 'new.json'));
    writeOutputFile('--json', join(dir, 'new.json'), '{}\n');
    checkOutputFile('--json', join(dir, 'new.json'));
    assert.equal(readFileSync(join(dir, 'new.json'), 'utf8'), '{}\n');
  });

  it('rejects a directory, naming the flag and the path', () => {
    usage(() => checkOutputFile('--json', dir), new RegExp(`^--json: cannot write ${dir}: is a directory$`));
    usage(() => checkOutputFile('--html', `${join(dir, 'missing')}/`), /^--html: cannot write .*missing\/: names a directory$/);
  });

  it('rejects a file in a folder that does not exist, or under a file', () => {
    usage(() => checkOutputFile('--json', join(dir, 'nope', 'x.json')), /^--json: cannot write .*nope\/x\.json: folder .*nope does not exist$/);
    writeOutputFile('--json', join(dir, 'plain'), 'x');
    usage(() => checkOutputFile('--json', join(dir, 'plain', 'x.json')), /^--json: cannot write .*plain\/x\.json: .*plain is not a directory$/);
  });

  it('turns a write that fails into one line naming the flag and the path', () => {
    mkdirSync(join(dir, 'sub'));
    usage(() => writeOutputFile('--json', join(dir, 'sub'), '{}'), /^--json: cannot write .*sub: is a directory$/);
    if (existsSync('/dev/full')) {
      assert.throws(() => writeOutputFile('--json', '/dev/full', '{}'), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_INTERNAL' && /^--json: cannot write \/dev\/full: no space left on device$/.test(e.message));
    }
  });
});

describe('cli context: numbers on the command line', () => {
  it('takes decimal numbers only: no hex, binary or empty value slips through as a number', () => {
    assert.equal(positiveNumber('--rps', '12.5'), 12.5);
    assert.equal(positiveNumber('--rps', '1e3'), 1000);
    assert.equal(positiveInteger('--seed', '0', 0), 0);
    usage(() => positiveNumber('--rps', '0x10'), /^--rps: expected a positive number, got "0x10"$/);
    usage(() => positiveNumber('--rps', '0b11'), /^--rps: /);
    usage(() => positiveInteger('--seed', '', 0), /^--seed: expected an integer ≥ 0, got ""$/);
    usage(() => positiveInteger('--jobs', '0x2'), /^--jobs: expected a positive integer, got "0x2"$/);
  });
});
