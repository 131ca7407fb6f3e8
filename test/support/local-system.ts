import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../../src/catalog/catalog.ts';
import { mixCost } from '../../src/core/types.ts';

const BIN = fileURLToPath(new URL('../../bin/mixscale.js', import.meta.url));

/** One controller decision, as its tick log line reports it. */
export interface Tick {
  readonly tick: number;
  readonly atMs: number;
  readonly mix: Record<string, number>;
  readonly spendUsdPerHour: number;
  readonly budgetUsdPerHour: number;
}

export interface LocalSystem {
  readonly dir: string;
  readonly configPath: string;
  readonly routerUrl: string;
  /** Decisions in order, appended as the controller logs them. */
  readonly ticks: Tick[];
  /** Stops the controller, then the nodes it launched (from its state file), then the router; removes the folder. */
  stop(): Promise<void>;
}

/**
 * The router and controller sections every local run shares: a router on `port` with 4 s
 * snapshot windows, a controller ticking every 2 s on the local provider; `local` is the body of
 * `controller.local` (flow YAML).
 */
export function systemYaml(routerUrl: string, port: number, cluster: string, local: string): string {
  return `router:
  listen: { host: 127.0.0.1, port: ${port} }
  snapshotWindow: 4s
  adminToken: e2e-admin-token-0123456789
controller:
  provider: local
  cluster: ${cluster}
  schedule: '*/2 * * * * *'
  routerUrl: ${routerUrl}
  launchTimeout: 1m
  drainTimeout: 10s
  local: ${local}
`;
}

/** Every request got an HTTP answer: no connection errors or client timeouts. */
export function assertAnswered(report: { readonly failures: Readonly<Record<string, number>> }, what: string): void {
  const transport = Object.entries(report.failures).filter(([reason]) => !reason.startsWith('http '));
  assert.deepEqual(transport, [], `${what}: requests without an answer: ${JSON.stringify(report.failures)}`);
}

/** Neither the plan nor the billed spend of any tick exceeded the budget. */
export function assertWithinBudget(ticks: readonly Tick[], budget: number): void {
  const catalog = Catalog.load();
  for (const t of ticks) {
    const planned = mixCost(t.mix, (type) => catalog.price(type));
    assert.ok(planned <= budget + 1e-9, `tick ${t.tick} planned ${JSON.stringify(t.mix)} at $${planned}/h`);
    assert.ok(t.spendUsdPerHour <= budget + 1e-9, `tick ${t.tick} spent $${t.spendUsdPerHour}/h`);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the whole system on loopback, in a fresh temp folder: `mixscale router` and
 * `mixscale controller` (local provider, cluster `cluster`) from the config that
 * `config(routerUrl, port)` returns, and waits until a node answers through the router.
 */
export async function startLocalSystem(
  config: (routerUrl: string, port: number) => string,
  opts: { cluster: string; readyProbe: string; readyBody?: unknown; readyTimeoutMs?: number },
): Promise<LocalSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'mixscale-local-'));
  const port = await freePort();
  const routerUrl = `http://127.0.0.1:${port}`;
  const configPath = join(dir, 'local.yaml');
  writeFileSync(configPath, config(routerUrl, port));
  const children: ChildProcess[] = [];
  const ticks: Tick[] = [];
  const start = (args: string[]): ChildProcess => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return child;
  };
  const stop = async (): Promise<void> => {
    const end = (c: ChildProcess | undefined): Promise<void> =>
      c === undefined || c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => (c.once('exit', () => r()), c.kill('SIGTERM')));
    // The controller leaves its nodes for a successor to adopt: stop it first, then them.
    await end(children[1]);
    const state = join(dir, '.mixscale', `local-${opts.cluster}.json`);
    if (existsSync(state)) {
      for (const i of (JSON.parse(readFileSync(state, 'utf8')) as { instances: Array<{ pid: number }> }).instances) {
        try {
          process.kill(i.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    await end(children[0]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const router = start(['--log-level', 'warn', 'router', '--config', configPath]);
    router.stderr!.resume();
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: router.stdout! }).once('line', () => resolve());
      router.once('exit', (c) => reject(new Error(`router exited ${c}`)));
    });
    const controller = start(['controller', '--config', configPath]);
    controller.stdout!.resume();
    createInterface({ input: controller.stderr! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const v = JSON.parse(line) as Partial<Tick> & { time?: number };
      if (v.tick !== undefined && v.mix !== undefined) ticks.push({ ...(v as Tick), atMs: v.time ?? Date.now() });
    });
    const until = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      const r = await fetch(`${routerUrl}${opts.readyProbe}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(opts.readyBody ?? { inputs: [{ name: 'input', shape: [10, 1], datatype: 'FP32', data: new Array(10).fill(0) }] }) }).catch(() => undefined);
      if (r?.status === 200) break;
      assert.ok(Date.now() < until, 'no node answered through the router in time');
      await new Promise((res) => setTimeout(res, 250));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, configPath, routerUrl, ticks, stop };
}
