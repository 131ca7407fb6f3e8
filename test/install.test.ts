import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './support/cli.ts';

describe('fresh install', () => {
  it('.npmrc tells onnxruntime-node to skip its network download', () => {
    assert.match(readFileSync(join(REPO_ROOT, '.npmrc'), 'utf8'), /^onnxruntime-node-install=skip$/m);
  });

  it("package.json denies onnxruntime-node's install script and approves esbuild's (npm 11.16+; npm 12 runs only approved ones)", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    assert.deepEqual(pkg.allowScripts, { esbuild: true, 'onnxruntime-node': false });
  });

  it('npm finds no dependency whose install script is unreviewed (so `npm ci` prints no advisory)', function () {
    const r = spawnSync('npm', ['approve-scripts', '--allow-scripts-pending'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0 && /unknown command|Unknown command/i.test(r.stdout + r.stderr)) this.skip(); // npm before 11.16
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /No packages with unreviewed install scripts/);
  });

  it("onnxruntime-node's install script exits at once with that setting (no download attempted)", () => {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('onnxruntime-node/package.json'));
    // npm exports .npmrc keys to scripts as npm_config_* variables; emulate exactly that, and
    // point any proxy at a closed port so a download attempt would fail loudly instead of hanging.
    const r = spawnSync(process.execPath, [join(pkgDir, 'script', 'install.js')], {
      cwd: pkgDir,
      env: { ...process.env, npm_config_onnxruntime_node_install: 'skip', GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, '');
  });

  it('the CPU runtime is bundled: a session loads without any download', async () => {
    const ort = await import('onnxruntime-node');
    assert.ok(ort.listSupportedBackends().some((b) => b.name === 'cpu'));
  });
});
