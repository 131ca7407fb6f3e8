import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandOf, jsonBeforeCommand } from '../../src/cli/main.ts';
import { runCli } from '../support/cli.ts';

/** Runs the CLI and returns the modules it loaded (their URLs). */
function loadedBy(args: readonly string[]): { code: number; stderr: string; urls: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-imports-'));
  try {
    const file = join(dir, 'urls');
    writeFileSync(file, '');
    const r = runCli(args, {
      env: {
        MIXSCALE_RECORD_IMPORTS: file,
        NODE_OPTIONS: `--import ${new URL('../support/record-imports.mjs', import.meta.url).href}`,
      },
    });
    return { code: r.code, stderr: r.stderr, urls: readFileSync(file, 'utf8').split('\n').filter((u) => u !== '') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('mixscale CLI', () => {
  it('--help lists the commands and examples', () => {
    const r = runCli(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['sim', 'plan', 'controller', 'router', 'node', 'catalog']) assert.match(r.stdout, new RegExp(`\\n  ${c}\\b`));
    assert.match(r.stdout, /Examples:/);
  });

  it('loads only the command it runs: plan and catalog load neither the AWS SDK, vega, express nor onnxruntime; a local controller no AWS SDK', function () {
    this.timeout(60_000);
    const heavy = /@aws-sdk\/client-|\/vega(?:-lite)?\/|\/express\/|onnxruntime-node/;
    for (const args of [
      ['catalog'],
      ['plan', '--config', 'sim/scenarios/default.yaml', '--rps', '10'],
    ]) {
      const r = loadedBy(args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.urls.some((u) => u.endsWith(`/src/cli/commands/${args[0]}.ts`)), `${args[0]}: the recorder saw the command's own module`);
      assert.deepEqual(r.urls.filter((u) => heavy.test(u) || /\/src\/cli\/commands\//.test(u) && !u.endsWith(`/${args[0]}.ts`)), [], args.join(' '));
    }
    const local = loadedBy(['controller', '--config', 'examples/local.yaml', 'status']);
    assert.equal(local.code, 0, local.stderr);
    assert.ok(local.urls.some((u) => u.endsWith('/src/cli/commands/controller.ts')));
    assert.deepEqual(local.urls.filter((u) => u.includes('@aws-sdk/')), []);
    // The loader sees the SDK where it is used: the same recorder finds it for an AWS config.
    const aws = loadedBy(['controller', '--config', 'infra/examples/aws.yaml', 'status', '--endpoint-url', 'http://127.0.0.1:9']);
    assert.ok(aws.urls.some((u) => u.includes('@aws-sdk/client-ec2')), aws.stderr);
  });

  it('finds the command an argument list runs past the global options', () => {
    const argv = (...a: string[]) => ['node', 'mixscale', ...a];
    assert.equal(commandOf(argv('plan', '--rps', '3')), 'plan');
    assert.equal(commandOf(argv('--config', 'sim', 'catalog')), 'catalog', 'a config file named like a command is the option value');
    assert.equal(commandOf(argv('-c', 'x.yaml', '--log-level', 'debug', 'sim')), 'sim');
    assert.equal(commandOf(argv('--config=x.yaml', 'load')), 'load');
    assert.equal(commandOf(argv('--json', 'catalog')), 'catalog', '--json before the command takes no value');
    assert.equal(commandOf(argv('--json', 'out.json', 'catalog')), 'catalog');
    assert.equal(commandOf(argv('--json', '--config', 'x.yaml', 'router')), 'router');
    assert.equal(commandOf(argv('--help')), undefined);
    assert.equal(commandOf(argv()), undefined);
    assert.equal(commandOf(argv('platn')), undefined, 'a typo builds every command, for the suggestion');
    assert.equal(commandOf(argv('--', 'sim')), undefined);
    // As commander reads them: --json takes a command's name as its file when a command follows...
    assert.equal(commandOf(argv('--json', 'plan', 'catalog')), 'catalog');
    // ...and a help before the command is the top-level help, which lists every command.
    assert.equal(commandOf(argv('--help', 'plan')), undefined);
    assert.equal(commandOf(argv('-h', 'catalog')), undefined);
    assert.equal(commandOf(argv('plan', '--help')), 'plan');
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

  it('a repeated --json is a usage error (exit 2) naming each, rather than one silently dropped', () => {
    for (const args of [['--json', 'catalog', '--json', 'x.json'], ['--json', 'y.json', 'catalog', '--json=x.json']]) {
      const r = runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^mixscale: --json is given 2 times \(--json, --json(=x\.json)?\): give it once, alone for JSON on stdout or with a FILE\n$/);
    }
  });

  it('an unknown option is a usage error (exit 2)', () => {
    const r = runCli(['catalog', '--frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--frobnicate'/);
  });
});
