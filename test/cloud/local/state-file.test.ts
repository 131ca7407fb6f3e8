import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readState, writeState } from '../../../src/cloud/local/state-file.ts';
import { isMixscaleError } from '../../../src/core/errors.ts';

describe('local state file', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mixscale-state-'));
    file = join(dir, 'local-c.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fails = (text: string, what: RegExp) => {
    writeFileSync(file, text);
    assert.throws(
      () => readState(file, 'c'),
      (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_USAGE' && e.message.startsWith(`local state ${file}`) && what.test(e.message) && !e.message.includes('\n'),
    );
  };

  it('names the file and the field when valid JSON has the wrong shape', () => {
    fails('null', /: expected object, received null; move it away/);
    fails('{"cluster":"c","instances":{}}', /: instances: expected array, received object/);
    fails('{"cluster":"c","instances":[{"id":"local-0001","type":"r5n.large","pool":"p","pid":"12","launchedAtMs":0,"stdoutPath":"x"}]}', /: instances\.0\.pid: expected number/);
    fails('{"cluster":"c","tokens":null}', /: tokens: expected array, received null/);
  });

  it('names the file when it is not JSON or belongs to another cluster', () => {
    fails('{"cluster":', /is not JSON/);
    fails('{"cluster":"other"}', /belongs to cluster "other", not "c"/);
  });

  it('reads back what it wrote, and starts empty without a file', () => {
    assert.deepEqual(readState(file, 'c'), { cluster: 'c', instances: [], tokens: [], nextSeq: 1 });
    const state = { cluster: 'c', instances: [{ id: 'local-0001-ab', type: 'r5n.large', pool: 'p', pid: 42, launchedAtMs: 5, stdoutPath: 'x.out', address: 'http://127.0.0.1:1' }], tokens: [{ token: 't', ids: ['local-0001-ab'] }], nextSeq: 2 };
    writeState(file, state);
    assert.deepEqual(readState(file, 'c'), state);
  });
});
