import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../../core/clock.ts';
import { MixscaleError } from '../../core/errors.ts';
import { silentLogger, type Logger } from '../../core/log.ts';
import type { Instance, Ms } from '../../core/types.ts';
import { ownedPrice, type CloudProvider, type LaunchSpec } from '../provider.ts';
import { readState, writeState, type LocalRecord, type LocalState } from './state-file.ts';

const BIN = fileURLToPath(new URL('../../../bin/mixscale.js', import.meta.url));

/** `mixscale node emulated` for the type, port chosen by the OS. Placeholders: {type} {model} {pool} {id} {slots}. */
const DEFAULT_LOCAL_COMMAND: readonly string[] = [process.execPath, BIN, 'node', 'emulated', '--type', '{type}', '--model', '{model}', '--slots', '{slots}', '--port', '0'];

const TOKENS_KEPT = 200;
/** Log files (ID.out, ID.err) of nodes that are gone: the newest this many are kept. */
const ENDED_LOGS_KEPT = 100;
/** Nodes that are gone, kept for describe() as EC2 keeps a terminated instance visible a while. */
const ENDED_KEPT = 1000;

export interface LocalProviderOptions {
  readonly cluster: string;
  /** Where the provider remembers its processes (a restarted controller adopts them). */
  readonly stateFile: string;
  readonly clock: Clock;
  readonly priceOf: (type: string) => number;
  /** Model the nodes serve (`{model}` in the command). */
  readonly model: string;
  /** Requests a node of this pool serves at once (`{slots}` in the command; default 1). */
  readonly slotsOf?: (pool: string) => number;
  /** Extra delay from launch before an instance counts as running (emulates boot). */
  readonly bootDelayMs?: Ms;
  /** argv of a node; the first stdout line must be `{"listening":"http://HOST:PORT"}`. */
  readonly command?: readonly string[];
  /** Per pool: its own argv (`pools[].command`) and model (`{model}`), where it has them. */
  readonly poolCommand?: (pool: string) => readonly string[] | undefined;
  readonly poolModel?: (pool: string) => string | undefined;
  readonly logger?: Logger;
  /** Look, never write the state file (`controller status` beside a running controller). */
  readonly readOnly?: boolean;
  /** How long a terminated node may take to exit on SIGTERM before it gets SIGKILL (default 10 s). */
  readonly terminateGraceMs?: Ms;
}

/** Names the process as ours: a pid reused after a reboot must never be taken for a node. */
const INSTANCE_ENV = 'MIXSCALE_INSTANCE_ID';

/**
 * Whether our node `id` still runs as `pid`. Where /proc is readable (Linux) the process must
 * carry our instance id in its environment; elsewhere a live pid is taken at its word.
 */
function alive(pid: number, id: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return true;
  }
  return environ.split('\0').includes(`${INSTANCE_ENV}=${id}`);
}

/**
 * Whether anything of node `id`'s process group (its leader is `pgid`: nodes are spawned
 * detached) still runs. Where /proc is readable, a member must carry our instance id, so a
 * group id reused by someone else is never taken for ours (nor signalled).
 */
function groupAlive(pgid: number, id: string): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (alive(pgid, id)) return true;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((f) => /^\d+$/.test(f));
  } catch {
    return true;
  }
  return pids.some((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid && alive(Number(pid), id);
    } catch {
      return false;
    }
  });
}

/** Sends `signal` to the whole process group: a wrapper's children (`sh -c …`) go too. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** A node's stderr file, beside its stdout file (`ID.out` → `ID.err`). */
const stderrPathOf = (stdoutPath: string): string => stdoutPath.replace(/\.out$/, '.err');

/** The last lines of a node's log (up to 500 characters), for the line that says it died. */
function lastLines(path: string): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text.length > 500 ? `…${text.slice(-500)}` : text;
  } catch {
    return '';
  }
}

/** The URL from a node's first stdout line, once it is there. */
function listeningUrl(stdoutPath: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(stdoutPath, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as { listening?: unknown };
      if (typeof v.listening === 'string') return v.listening;
    } catch {
      // A partial line: the node is still writing it.
    }
  }
  return undefined;
}

/**
 * A real cloud on one machine: each instance is a `mixscale node` process on 127.0.0.1,
 * billed at its catalog type's price. Processes are detached and their output goes to files,
 * so they outlive a controller restart; the state file lets the next controller adopt them.
 */
export class LocalProvider implements CloudProvider {
  readonly name = 'local';
  private readonly o: LocalProviderOptions;
  private readonly log: Logger;
  private readonly logDir: string;
  /** Records list() and terminate() dropped (their process gone), oldest first: see describe(). */
  private readonly ended = new Map<string, LocalRecord>();

  constructor(options: LocalProviderOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    this.logDir = join(dirname(options.stateFile), `${options.cluster}-nodes`);
  }

  private load(): LocalState {
    return readState(this.o.stateFile, this.o.cluster);
  }

  private toInstance(r: LocalRecord, now: Ms): Instance {
    const booted = now - r.launchedAtMs >= (this.o.bootDelayMs ?? 0);
    const running = booted && r.address !== undefined;
    const usdPerHour = ownedPrice(this.o.priceOf, r.type, () => {
      if (!(this.o.readOnly ?? false)) this.log.warn({ id: r.id, type: r.type }, 'owned instance of a type the catalog lacks; priced at 0');
    });
    return {
      id: r.id,
      type: r.type,
      pool: r.pool,
      state: r.stoppingSinceMs !== undefined ? 'shutting-down' : running ? 'running' : 'pending',
      launchedAtMs: r.launchedAtMs,
      ...(running ? { readyAtMs: Math.max(r.launchedAtMs + (this.o.bootDelayMs ?? 0), r.launchedAtMs) } : {}),
      ...(r.address !== undefined ? { address: r.address } : {}),
      usdPerHour,
    };
  }

  async list(): Promise<Instance[]> {
    const state = this.load();
    const now = this.o.clock.now();
    let changed = false;
    const readOnly = this.o.readOnly ?? false;
    const live: LocalRecord[] = [];
    for (const r of state.instances) {
      if (r.stoppingSinceMs !== undefined) {
        // Terminated: listed as shutting down until every process of its group has exited.
        if (!groupAlive(r.pid, r.id)) {
          if (!readOnly) this.log.info({ id: r.id, pid: r.pid }, 'local node exited');
          this.remember(r);
          changed = true;
          continue;
        }
        if (!readOnly && r.killedAtMs === undefined && now - r.stoppingSinceMs >= (this.o.terminateGraceMs ?? 10_000)) {
          this.log.warn({ id: r.id, pid: r.pid }, 'local node still running after SIGTERM; sending SIGKILL');
          signalGroup(r.pid, 'SIGKILL');
          r.killedAtMs = now;
          changed = true;
        }
        live.push(r);
        continue;
      }
      if (!alive(r.pid, r.id)) {
        if (!(this.o.readOnly ?? false)) {
          // Why it died is in its stderr: a bad command line exits at once, and the loop would relaunch it silently.
          const errPath = stderrPathOf(r.stdoutPath);
          this.log.warn({ id: r.id, pid: r.pid, stderr: lastLines(errPath), log: errPath }, 'local instance died');
        }
        this.remember(r);
        changed = true;
        continue;
      }
      if (r.address === undefined) {
        const url = listeningUrl(r.stdoutPath);
        if (url !== undefined) {
          r.address = url;
          changed = true;
        }
      }
      live.push(r);
    }
    if (changed && !readOnly) {
      state.instances = live;
      writeState(this.o.stateFile, state);
    }
    return live.map((r) => this.toInstance(r, now));
  }

  /**
   * Those of `ids` this provider launched, in whatever state: a node whose process is gone is
   * `terminated`, whether list() has dropped it yet or not. The reconciler asks about launches
   * list() has not shown yet: a node command that exits at once (a bad flag) is then forgotten at
   * the next tick and its type cooled down, instead of holding budget for the launch timeout.
   */
  async describe(ids: readonly string[]): Promise<Instance[]> {
    const now = this.o.clock.now();
    const current = new Map(this.load().instances.map((r) => [r.id, r]));
    return ids.flatMap((id): Instance[] => {
      const r = current.get(id);
      if (r !== undefined && (r.stoppingSinceMs !== undefined || alive(r.pid, r.id))) return [this.toInstance(r, now)];
      const gone = r ?? this.ended.get(id);
      return gone === undefined ? [] : [{ ...this.toInstance(gone, now), state: 'terminated' }];
    });
  }

  /**
   * Removes the logs of all but the newest ENDED_LOGS_KEPT nodes that are gone, so that they do
   * not pile up over runs; a live node's logs are never removed.
   */
  private pruneLogs(state: LocalState): void {
    const live = new Set(state.instances.map((r) => r.id));
    const newest = new Map<string, number>();
    for (const f of readdirSync(this.logDir)) {
      const m = /^(.+)\.(?:out|err)$/.exec(f);
      if (m === null || live.has(m[1]!)) continue;
      try {
        newest.set(m[1]!, Math.max(newest.get(m[1]!) ?? 0, statSync(join(this.logDir, f)).mtimeMs));
      } catch {
        // Removed meanwhile.
      }
    }
    const old = [...newest].sort((a, b) => b[1] - a[1]).slice(ENDED_LOGS_KEPT);
    for (const [id] of old) for (const ext of ['out', 'err']) rmSync(join(this.logDir, `${id}.${ext}`), { force: true });
  }

  private remember(r: LocalRecord): void {
    this.ended.set(r.id, r);
    if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.keys().next().value!);
  }

  async launch(spec: LaunchSpec): Promise<Instance[]> {
    if (!Number.isInteger(spec.count) || spec.count < 0) {
      throw new MixscaleError('MIXSCALE_CLOUD_API', `launch: count must be a non-negative integer, got ${spec.count}`, { retryable: false, type: spec.type });
    }
    const state = this.load();
    const now = this.o.clock.now();
    const prior = state.tokens.find((t) => t.token === spec.clientToken);
    if (prior !== undefined) {
      const byId = new Map(state.instances.map((r) => [r.id, r]));
      return prior.ids.flatMap((id) => {
        const r = byId.get(id);
        return r === undefined ? [] : [this.toInstance(r, now)];
      });
    }
    try {
      this.o.priceOf(spec.type);
    } catch {
      throw new MixscaleError('MIXSCALE_CLOUD_CAPACITY', `launch: instance type "${spec.type}" is not in the catalog`, { type: spec.type, retryable: false });
    }
    mkdirSync(this.logDir, { recursive: true });
    this.pruneLogs(state);
    const tokenHash = createHash('sha256').update(spec.clientToken).digest('hex').slice(0, 8);
    const launched: LocalRecord[] = [];
    // Each node is in the state file (written whole and renamed) as soon as it is spawned,
    // under the token: a controller killed mid-launch, or a spawn failing part-way, leaves
    // every started node adopted by the next list() and returned again for the same token.
    const token = { token: spec.clientToken, ids: [] as string[] };
    state.tokens.push(token);
    if (state.tokens.length > TOKENS_KEPT) state.tokens.splice(0, state.tokens.length - TOKENS_KEPT);
    for (let k = 0; k < spec.count; k++) {
      const id = `local-${String(state.nextSeq++).padStart(4, '0')}-${tokenHash}`;
      const stdoutPath = join(this.logDir, `${id}.out`);
      const pid = this.spawnNode(id, spec, stdoutPath);
      const r: LocalRecord = { id, type: spec.type, pool: spec.pool, pid, launchedAtMs: now, stdoutPath };
      state.instances.push(r);
      token.ids.push(id);
      launched.push(r);
      writeState(this.o.stateFile, state);
      this.log.info({ id, pid, type: spec.type }, 'launched local node');
    }
    return launched.map((r) => this.toInstance(r, now));
  }

  private spawnNode(id: string, spec: LaunchSpec, stdoutPath: string): number {
    const model = this.o.poolModel?.(spec.pool) ?? this.o.model;
    // The placeholders config/fields' COMMAND_PLACEHOLDERS lists (the config refuses others).
    const argv = (this.o.poolCommand?.(spec.pool) ?? this.o.command ?? DEFAULT_LOCAL_COMMAND).map((a) =>
      a
        .replaceAll('{type}', spec.type)
        .replaceAll('{model}', model)
        .replaceAll('{pool}', spec.pool)
        .replaceAll('{id}', id)
        .replaceAll('{slots}', String(this.o.slotsOf?.(spec.pool) ?? 1)),
    );
    // `mixscale` as the program is this checkout's CLI, run by this Node: the docs' commands work
    // as written in a clone, where `mixscale` is not on PATH (npx resolves it; spawn does not).
    const [cmd, ...args] = argv[0] === 'mixscale' ? [process.execPath, BIN, ...argv.slice(1)] : argv;
    if (cmd === undefined) throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `pool ${spec.pool}: empty node command (pools[].command, controller.local.command)`);
    const out = openSync(stdoutPath, 'w');
    const err = openSync(stderrPathOf(stdoutPath), 'w');
    try {
      const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, err], env: { ...process.env, [INSTANCE_ENV]: id } });
      // Listened to first: a command that cannot start (not on PATH) reports it by an 'error'
      // event after this returns, which unheard would end the whole process.
      child.on('error', (e) => this.log.error({ id, err: e.message }, 'local node failed to start'));
      if (child.pid === undefined) throw new MixscaleError('MIXSCALE_CLOUD_API', `cannot start ${cmd}: not found or not executable`, { retryable: false });
      child.unref();
      return child.pid;
    } finally {
      closeSync(out);
      closeSync(err);
    }
  }

  async terminate(ids: readonly string[]): Promise<void> {
    const state = this.load();
    const owned = new Map(state.instances.map((r) => [r.id, r]));
    const foreign = ids.filter((id) => !owned.has(id));
    if (foreign.length > 0) {
      throw new MixscaleError('MIXSCALE_CLOUD_API', `terminate: not owned by this cluster: ${foreign.join(', ')}`, { ids: foreign, retryable: false });
    }
    const now = this.o.clock.now();
    const gone = new Set<string>();
    for (const id of ids) {
      const r = owned.get(id)!;
      if (r.stoppingSinceMs !== undefined) continue; // list() sees it out
      if (!groupAlive(r.pid, r.id)) {
        gone.add(id);
        this.remember(r);
        continue;
      }
      try {
        // The whole group: a node started through a wrapper must not outlive it. The node
        // finishes in-flight requests on SIGTERM, then exits; list() keeps it as shutting
        // down until it has, and sends SIGKILL after terminateGraceMs.
        signalGroup(r.pid, 'SIGTERM');
      } catch (e) {
        throw new MixscaleError('MIXSCALE_CLOUD_API', `terminate ${id}: ${(e as Error).message}`, { retryable: true });
      }
      r.stoppingSinceMs = now;
      this.log.info({ id, pid: r.pid }, 'terminating local node');
    }
    state.instances = state.instances.filter((r) => !gone.has(r.id));
    writeState(this.o.stateFile, state);
  }
}
