import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controllerRunning, lockCluster, lockHolder } from '../../src/control/cluster-lock.ts';
import { isMixscaleError } from '../../src/core/errors.ts';
import { silentLogger, type Logger } from '../../src/core/log.ts';

describe('cluster lock (one controller per cluster)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mixscale-lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes a free lock with this pid, in a state dir it creates, and removes it on release', () => {
    const file = join(dir, 'state', 'controller-c.lock');
    const release = lockCluster(file, 'c', silentLogger);
    assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    assert.equal(lockHolder(file), undefined, 'this process is not another controller');
    release();
    assert.ok(!existsSync(file));
  });

  it('refuses while a live controller holds it, naming the cluster, the pid and the file', async () => {
    const file = join(dir, 'controller-c.lock');
    // A live process whose command line says controller.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'controller'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      writeFileSync(file, `${other.pid}\n`);
      assert.ok(controllerRunning(other.pid!));
      assert.throws(
        () => lockCluster(file, 'c', silentLogger),
        (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_BUSY' && e.message.includes(`cluster "c" is already running as pid ${other.pid} (${file})`),
      );
      assert.equal(readFileSync(file, 'utf8'), `${other.pid}\n`, 'the holder keeps its lock');
    } finally {
      other.kill();
    }
  });

  it('takes over a stale lock: its process is gone, or the pid now runs something else', () => {
    const file = join(dir, 'controller-c.lock');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(file, `${gone}\n`);
    lockCluster(file, 'c', silentLogger)();
    const notAController = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeFileSync(file, `${notAController.pid}\n`);
      assert.equal(controllerRunning(notAController.pid!), false);
      lockCluster(file, 'c', silentLogger);
      assert.equal(readFileSync(file, 'utf8'), `${process.pid}\n`);
    } finally {
      notAController.kill();
    }
  });

  it('runs without the lock, with a warning, where the state dir cannot be made', () => {
    writeFileSync(join(dir, 'file'), '');
    const warned: string[] = [];
    const logger = { warn: (_o: unknown, msg: string) => void warned.push(msg) } as unknown as Logger;
    lockCluster(join(dir, 'file', 'state', 'controller-c.lock'), 'c', logger)();
    assert.match(warned.join('\n'), /cannot take the cluster's lock .*running without it/);
  });
});
