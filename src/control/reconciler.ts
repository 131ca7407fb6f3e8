import { createHash } from 'node:crypto';
import type { CloudProvider, LaunchSpec } from '../cloud/provider.ts';
import type { Clock } from '../core/clock.ts';
import { isMixscaleError } from '../core/errors.ts';
import { silentLogger, type Logger } from '../core/log.ts';
import { BILLED_STATES, isActive, type Instance, type Mix, type Ms } from '../core/types.ts';
import { fixed } from '../core/units.ts';
import type { FleetMembership } from './types.ts';

/** One step the reconciler takes. Plans are lists of these; acting applies them in order. */
export type ReconcileAction =
  | { readonly kind: 'launch'; readonly type: string; readonly pool: string; readonly count: number; readonly clientToken: string; readonly reason: string }
  | { readonly kind: 'drain'; readonly id: string; readonly type: string; readonly reason: string }
  | { readonly kind: 'terminate'; readonly id: string; readonly type: string; readonly reason: string }
  | { readonly kind: 'register'; readonly id: string; readonly type: string; readonly instance: Instance; readonly reason: string };

/** Everything planActions looks at: a snapshot, so the plan is a pure function of it. */
export interface FleetSnapshot {
  readonly nowMs: Ms;
  /** Owned billed instances with the reconciler's draining overlay applied. */
  readonly fleet: readonly Instance[];
  /** When each draining instance started draining. */
  readonly drainingSinceMs: ReadonlyMap<string, Ms>;
  /** Requests in flight on each draining instance (missing = unknown, treated as busy). */
  readonly inFlight: ReadonlyMap<string, number>;
  /** Running instances already registered with the membership. */
  readonly registered: ReadonlySet<string>;
  /**
   * Tokens whose launch this controller saw succeed. Reusing one would get the old (perhaps
   * terminated) instances back, so a new launch gets a fresh variant; a token whose launch
   * failed is reused as is, so a lost answer is retried idempotently.
   */
  readonly spentTokens?: ReadonlySet<string>;
  /**
   * Instances this controller launched that provider.list() does not show yet (EC2's
   * DescribeInstances lags RunInstances): they count against the budget and the target like
   * pending ones, but are never terminated or registered until they are listed.
   */
  readonly unlisted?: ReadonlySet<string>;
}

export interface PlanRules {
  readonly priceOf: (type: string) => number;
  readonly poolOf: (type: string) => string;
  readonly launchTimeoutMs: Ms;
  readonly drainTimeoutMs: Ms;
  /** Prefix of every clientToken (the cluster name): tokens never collide across clusters. */
  readonly tokenPrefix: string;
  /**
   * Models a pool's instances serve (`pools[].models`, or every class's model), so a mix change
   * never drains the last instance serving one. Absent: every instance serves the same models.
   */
  readonly modelsOf?: (pool: string) => readonly string[];
}

/** Without `modelsOf`: one model stands for whatever every instance serves. */
const ANY_MODEL: readonly string[] = ['*'];

export interface ActionPlan {
  readonly actions: readonly ReconcileAction[];
  /** The desired mix after trimming it to the budget. */
  readonly target: Mix;
  /** Billed spend now, before acting ($/h). */
  readonly spendUsdPerHour: number;
  /** Billed spend once the plan's launches and terminations are applied ($/h). */
  readonly plannedSpendUsdPerHour: number;
  /** Instances of the target still waited for (budget-blocked or pending). */
  readonly waiting: number;
}

/**
 * What removing one instance costs in latency per dollar saved; the lowest goes first. `count`
 * is how many of its type are being weighed: the mix's count when a mix is trimmed to the
 * budget, the surplus running ones when choosing which to drain. The largest count × price
 * goes first: the smallest share of a pool's capacity per dollar saved.
 */
const removalCost = (price: number, count: number): number => -(count * price);

/** Slack for float sums of prices. */
const EPS = 1e-9;

/**
 * What an owned instance costs now: its type's price today, or, for a type the catalog lacks
 * (tagged by hand, or dropped from the catalog), the price the provider gave it.
 */
export function instancePrice(i: Instance, priceOf: (type: string) => number): number {
  try {
    return priceOf(i.type);
  } catch {
    return i.usdPerHour;
  }
}

/** How many of `count` instances at `price` fit in `leftUsd` ($/h); free ones always fit. */
function launchesThatFit(count: number, price: number, leftUsd: number): number {
  return Math.max(0, Math.min(count, price > 0 ? Math.floor((leftUsd + EPS) / price) : count));
}

function byNewestFirst(a: Instance, b: Instance): number {
  return b.launchedAtMs - a.launchedAtMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * Trims `desired` until it costs at most `budget`, removing first the instance whose loss
 * costs the least latency per dollar saved. A policy should already fit the budget; this is
 * the reconciler's guarantee that it never acts on one that does not.
 */
export function fitMixToBudget(desired: Mix, budget: number, rules: Pick<PlanRules, 'priceOf'>): Mix {
  const out: Record<string, number> = {};
  let cost = 0;
  for (const [t, n] of Object.entries(desired)) {
    if (n > 0) {
      out[t] = n;
      cost += n * rules.priceOf(t);
    }
  }
  while (cost > budget + EPS) {
    let pick: string | undefined;
    let best = Infinity;
    for (const [t, n] of Object.entries(out)) {
      if (n <= 0) continue;
      const c = removalCost(rules.priceOf(t), n);
      if (c < best || (c === best && pick !== undefined && t < pick)) {
        best = c;
        pick = t;
      }
    }
    if (pick === undefined) break;
    out[pick] = out[pick]! - 1;
    cost -= rules.priceOf(pick);
    if (out[pick] === 0) delete out[pick];
  }
  return out;
}

/**
 * A deterministic EC2-style ClientToken: the same fleet, target and time bucket give the
 * same token, so a controller restarted mid-launch repeats the same request (and gets the
 * same instances back) instead of launching again. The bucket and the ids of the type's
 * current instances change after a launch timeout, so a replan really launches anew.
 */
export function launchToken(prefix: string, type: string, pool: string, count: number, currentIds: readonly string[], bucket: string): string {
  const h = createHash('sha256')
    .update([prefix, type, pool, String(count), [...currentIds].sort().join(','), String(bucket)].join('|'))
    .digest('hex')
    .slice(0, 32);
  // EC2 allows 64 ASCII characters.
  return `${prefix.slice(0, 24)}-${h}`;
}

/**
 * The pure diff: what to do to move `snapshot.fleet` toward `desired` under `budget`.
 * Rules, in order:
 * 1. a launch not running after launchTimeoutMs is terminated (and replanned below);
 * 2. a draining instance is terminated once idle, or after drainTimeoutMs;
 * 3. running instances get registered with the membership;
 * 4. surplus pending instances are terminated (they serve nothing); surplus running ones are
 *    drained — only once the replacements are running (launch before drain), unless the
 *    money is needed now: over budget, they are drained until the rest fits; when a launch
 *    does not fit, as many are drained as the launches need, except the last running instance
 *    serving a model while its replacements are not serving yet — unless no replacement is on
 *    its way or fits beside it, when it goes too (a serving gap, the only way to the target);
 * 5. deficits are launched as far as the budget allows, counting pending + running + draining;
 *    the rest waits for later ticks, when drained instances are gone.
 */
export function planActions(desired: Mix, budget: number, snapshot: FleetSnapshot, rules: PlanRules): ActionPlan {
  const { nowMs } = snapshot;
  const unlisted = snapshot.unlisted ?? new Set<string>();
  let actions: ReconcileAction[] = [];
  const target = fitMixToBudget(desired, budget, rules);

  const billed = snapshot.fleet.filter((i) => BILLED_STATES.has(i.state));
  // Priced at today's rate, not the launch-time one: a price change applies to the whole fleet.
  const price = (i: Instance): number => instancePrice(i, rules.priceOf);
  let spend = 0;
  for (const i of billed) spend += price(i);
  const spendBefore = spend;

  const active = new Map<string, Instance[]>(); // pending + running, not draining
  /** Spend of instances that go on draining past this tick (billed until they are terminated). */
  let stillDraining = 0;
  const terminate = (i: Instance, reason: string): void => {
    actions.push({ kind: 'terminate', id: i.id, type: i.type, reason });
    spend -= price(i);
  };

  for (const i of billed) {
    if (i.state === 'draining') {
      const since = snapshot.drainingSinceMs.get(i.id) ?? nowMs;
      const inFlight = snapshot.inFlight.get(i.id);
      if (inFlight === 0) terminate(i, 'drained');
      else if (nowMs - since >= rules.drainTimeoutMs) terminate(i, `drain timeout (${inFlight ?? '?'} in flight)`);
      else stillDraining += price(i);
      continue;
    }
    if (i.state === 'pending' && !unlisted.has(i.id) && nowMs - i.launchedAtMs >= rules.launchTimeoutMs) {
      terminate(i, 'launch timeout');
      continue;
    }
    let list = active.get(i.type);
    if (list === undefined) active.set(i.type, (list = []));
    list.push(i);
    if (i.state === 'running' && !snapshot.registered.has(i.id)) {
      // The router places a backend in the pool it names: one whose pool tag is missing (tagged
      // by hand) or names a pool the config no longer has would be refused at every tick while
      // counted here as serving. A type has one pool in a controller's config: that is its pool.
      const pool = rules.poolOf(i.type);
      actions.push({ kind: 'register', id: i.id, type: i.type, instance: i.pool === pool ? i : { ...i, pool }, reason: 'running' });
    }
  }

  const types = [...new Set([...active.keys(), ...Object.keys(target)])].sort();
  const surplus: Instance[] = [];
  const deficits: { type: string; count: number }[] = [];
  let pendingWanted = 0;
  for (const t of types) {
    const have = (active.get(t) ?? []).sort(byNewestFirst);
    const want = target[t] ?? 0;
    if (have.length > want) {
      // Pending ones first (no capacity lost; listed before unlisted, which cannot be terminated
      // yet), newest first among each state.
      const pending = have.filter((i) => i.state === 'pending');
      const running = have.filter((i) => i.state !== 'pending');
      const extra = [...pending.filter((i) => !unlisted.has(i.id)), ...pending.filter((i) => unlisted.has(i.id)), ...running].slice(0, have.length - want);
      for (const i of extra) surplus.push(i);
      pendingWanted += Math.max(0, pending.length - extra.filter((i) => i.state === 'pending').length);
    } else {
      pendingWanted += have.filter((i) => i.state === 'pending').length;
      if (have.length < want) deficits.push({ type: t, count: want - have.length });
    }
  }

  // Surplus pending instances go at once: they are billed and serve nothing. An unlisted one
  // stays billed until the next tick that lists it.
  for (const i of surplus) if (i.state === 'pending' && !unlisted.has(i.id)) terminate(i, 'surplus (pending)');
  const surplusRunning = surplus.filter((i) => i.state !== 'pending');

  const deficitCost = deficits.reduce((s, d) => s + d.count * rules.priceOf(d.type), 0);
  const needMoneyNow = spend > budget + EPS || spend + deficitCost > budget + EPS;
  // Launch before drain: keep the old capacity until the new is serving, unless budget says no.
  const replacementsServing = deficits.length === 0 && pendingWanted === 0;
  const order = rankForRemoval(surplusRunning, rules);
  if (replacementsServing) {
    for (const i of order) actions.push({ kind: 'drain', id: i.id, type: i.type, reason: 'surplus' });
  } else if (needMoneyNow) {
    // The money is needed now: drain as many as the launches need (the rest of the surplus goes
    // later, as a scale-down once the replacements serve), but while replacements are not
    // serving yet never the last running instance serving a model (a mix change must not empty
    // the fleet of a model for a boot time); over budget, drain until the rest fits regardless.
    // Instances already draining count as gone: their money comes when they are terminated.
    let billedAfter = spend - stillDraining;
    const serving = [...active.values()].flat().filter((i) => i.state === 'running');
    const drained = new Set<string>();
    const modelsOf = (i: Instance): readonly string[] => rules.modelsOf?.(i.pool) ?? ANY_MODEL;
    // Only models the target still serves have replacements coming; a model it gives up is not held.
    const wanted = new Set<string>();
    for (const [t, n] of Object.entries(target)) if (n > 0) for (const m of rules.modelsOf?.(rules.poolOf(t)) ?? ANY_MODEL) wanted.add(m);
    /** The wanted models `i` is the last running instance (not drained) to serve. */
    const lastFor = (i: Instance): string[] =>
      modelsOf(i).filter((m) => wanted.has(m) && !serving.some((o) => o !== i && !drained.has(o.id) && modelsOf(o).includes(m)));
    // Models with a replacement on its way: pending instances the target keeps.
    const coming = new Set<string>();
    const surplusIds = new Set(surplus.map((i) => i.id));
    for (const list of active.values()) for (const i of list) if (i.state === 'pending' && !surplusIds.has(i.id)) for (const m of modelsOf(i)) coming.add(m);
    // What stays billed if every surplus instance goes: a replacement must fit beside that.
    let staying = billedAfter;
    for (const i of surplusRunning) staying -= price(i);
    const fitsBeside = (i: Instance, models: readonly string[]): boolean =>
      deficits.some((d) => rules.priceOf(d.type) <= budget - staying - price(i) + EPS && (rules.modelsOf?.(rules.poolOf(d.type)) ?? ANY_MODEL).some((m) => models.includes(m)));
    for (const i of order) {
      const overBudget = billedAfter > budget + EPS;
      if (!overBudget && billedAfter + deficitCost <= budget + EPS) break;
      let reason = overBudget ? 'surplus (over budget)' : 'surplus (budget)';
      const last = overBudget ? [] : lastFor(i);
      if (last.length > 0) {
        // Kept while a replacement is on its way or can launch beside it. When none can, the
        // target is out of reach without a gap: the last one goes too, and says so.
        // A kept one stays billed: the next one's replacement must fit beside it too.
        if (last.some((m) => coming.has(m)) || fitsBeside(i, last)) {
          staying += price(i);
          continue;
        }
        reason = `surplus (budget): the last instance serving ${last.join(', ')}, but no replacement fits beside it: serving gap until the replacements run`;
      }
      actions.push({ kind: 'drain', id: i.id, type: i.type, reason });
      drained.add(i.id);
      billedAfter -= price(i);
    }
  }

  // An instance this plan drains must not be registered too (acting registers last, which
  // would hand it traffic again): unknown to the router, it has nothing to drain.
  const draining = new Set(actions.flatMap((a) => (a.kind === 'drain' ? [a.id] : [])));
  if (draining.size > 0) actions = actions.filter((a) => a.kind !== 'register' || !draining.has(a.id));

  let waiting = pendingWanted;
  const bucketMs = Math.max(1, Math.min(rules.launchTimeoutMs, 300_000));
  const bucket = Math.floor(nowMs / bucketMs);
  for (const d of deficits) {
    const price = rules.priceOf(d.type);
    const n = launchesThatFit(d.count, price, budget - spend);
    waiting += d.count;
    if (n === 0) continue;
    const pool = rules.poolOf(d.type);
    const ids = (active.get(d.type) ?? []).map((i) => i.id);
    let clientToken = launchToken(rules.tokenPrefix, d.type, pool, n, ids, String(bucket));
    for (let g = 1; snapshot.spentTokens?.has(clientToken) === true; g++) clientToken = launchToken(rules.tokenPrefix, d.type, pool, n, ids, `${bucket}.${g}`);
    actions.push({
      kind: 'launch',
      type: d.type,
      pool,
      count: n,
      clientToken,
      reason: n < d.count ? `deficit ${d.count}, ${n} fit the budget now` : `deficit ${d.count}`,
    });
    spend += n * price;
  }
  return { actions, target, spendUsdPerHour: spendBefore, plannedSpendUsdPerHour: Math.max(0, spend), waiting };
}

function rankForRemoval(instances: readonly Instance[], rules: PlanRules): Instance[] {
  const counts = new Map<string, number>();
  for (const i of instances) counts.set(i.type, (counts.get(i.type) ?? 0) + 1);
  const cost = (i: Instance): number => removalCost(instancePrice(i, rules.priceOf), counts.get(i.type) ?? 1);
  return [...instances].sort((a, b) => cost(a) - cost(b) || byNewestFirst(a, b));
}

export interface ReconcilerOptions {
  readonly provider: CloudProvider;
  readonly membership: FleetMembership;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly priceOf: (type: string) => number;
  readonly poolOf: (type: string) => string;
  readonly launchTimeoutMs: Ms;
  /** Longest a drain may take before the instance is terminated anyway (default 2 min). */
  readonly drainTimeoutMs?: Ms;
  /** Cluster name; prefixes every clientToken. */
  readonly cluster?: string;
  /**
   * Drains in progress when a previous controller stopped (id → drain start), so a restarted
   * controller finishes them instead of counting the drained instances as serving.
   */
  readonly draining?: ReadonlyMap<string, Ms>;
  /** See PlanRules.modelsOf. */
  readonly modelsOf?: (pool: string) => readonly string[];
}

export interface ActionFailure {
  readonly action: ReconcileAction;
  readonly code: string;
  readonly message: string;
}

export interface ReconcileResult {
  readonly atMs: Ms;
  readonly dryRun: boolean;
  readonly target: Mix;
  readonly actions: readonly ReconcileAction[];
  readonly failures: readonly ActionFailure[];
  /** Types whose launch failed for lack of capacity (the loop cools them down and replans). */
  readonly capacityErrors: readonly string[];
  readonly spendUsdPerHour: number;
  readonly plannedSpendUsdPerHour: number;
  /** Target instances not serving yet: pending, or waiting for budget to free up. */
  readonly waiting: number;
  readonly budgetUsdPerHour: number;
  /** The fleet as planned from (draining overlay applied). */
  readonly fleet: readonly Instance[];
}

/**
 * Applies plans to the cloud. Clock-driven and I/O-free except through the provider and the
 * membership, so the simulator runs it unchanged. Keeps only soft state (which instances it
 * drains and registered); after a restart it rebuilds from provider.list().
 */
export class Reconciler {
  private readonly o: ReconcilerOptions;
  private readonly log: Logger;
  private readonly drainingSince = new Map<string, Ms>();
  private readonly registered = new Set<string>();
  /** Tokens of launches that succeeded, oldest first (bounded: old buckets never recur). */
  private readonly spentTokens = new Set<string>();
  /**
   * Instances launched here that provider.list() has not shown yet, with when they were
   * launched (this clock): kept until listed, or forgotten after launchTimeoutMs.
   */
  private readonly unlisted = new Map<string, { readonly instance: Instance; readonly sinceMs: Ms }>();
  /**
   * Launches that failed without saying whether they happened (details.outcomeUnknown: EC2 may
   * have launched and lost the answer), by token. Until settled they stand in the fleet as
   * pending instances of their type (ids `unanswered:<token>:<k>`), so no plan launches them
   * again or spends their money twice; each fleet() sends them again with the same token, which
   * returns the instances if they were launched and launches them if not.
   */
  private readonly unanswered = new Map<string, { readonly spec: LaunchSpec; readonly sinceMs: Ms; readonly placeholders: readonly Instance[] }>();
  /** Instances that left the listing unasked (died): the router is told to forget them. */
  private readonly gone = new Set<string>();
  /**
   * The billed instances the last listing showed (less those terminated here since). One the
   * next listing misses is carried as it was for that look: a single miss is not proof that it is
   * gone (DescribeInstances is eventually consistent), and planning without it would launch a
   * replacement beside it, over the budget. Two misses in a row and it is gone.
   */
  private lastListed = new Map<string, Instance>();
  /** Whether a listing was read yet: before one, no instance can have been missed twice. */
  private listedBefore = false;
  /** What settling unanswered launches met, reported with the next reconcile's result. */
  private settled: { failures: ActionFailure[]; capacityErrors: string[] } = { failures: [], capacityErrors: [] };

  constructor(options: ReconcilerOptions) {
    this.o = options;
    this.log = options.logger ?? silentLogger;
    for (const [id, since] of options.draining ?? []) this.drainingSince.set(id, since);
  }

  /** Drains in progress (id → drain start), to hand to a successor after a restart. */
  draining(): ReadonlyMap<string, Ms> {
    return this.drainingSince;
  }

  private rules(): PlanRules {
    return {
      priceOf: this.o.priceOf,
      poolOf: this.o.poolOf,
      launchTimeoutMs: this.o.launchTimeoutMs,
      drainTimeoutMs: this.o.drainTimeoutMs ?? 120_000,
      tokenPrefix: this.o.cluster ?? 'mixscale',
      ...(this.o.modelsOf !== undefined ? { modelsOf: this.o.modelsOf } : {}),
    };
  }

  /** Owned billed instances, with the draining overlay applied. */
  async fleet(): Promise<Instance[]> {
    await this.settleUnanswered();
    const listed = await this.o.provider.list();
    // An instance this controller drains stays draining whatever the provider says of it.
    const overlaid = (i: Instance): Instance => (this.drainingSince.has(i.id) && i.state !== 'draining' ? { ...i, state: 'draining' } : i);
    /** The billed instances this listing shows. */
    const seen = new Map<string, Instance>();
    const out: Instance[] = [];
    for (const i of listed) {
      this.unlisted.delete(i.id); // listed: the provider's word from now on
      if (!BILLED_STATES.has(i.state)) continue;
      seen.set(i.id, i);
      if (i.state === 'draining' && !this.drainingSince.has(i.id)) this.drainingSince.set(i.id, this.o.clock.now());
      out.push(overlaid(i));
    }
    const shown = new Set(listed.map((i) => i.id));
    const previous = this.lastListed;
    for (const [id, prev] of previous) {
      if (shown.has(id)) continue; // listed, billed or not: the provider's word
      this.log.warn({ id, type: prev.type }, 'an instance the last listing showed is missing from this one; counted as it was until a second listing misses it too');
      out.push(overlaid({ ...prev }));
    }
    this.lastListed = seen;
    await this.endedAtOnce();
    const now = this.o.clock.now();
    for (const [id, u] of this.unlisted) {
      if (now - u.sinceMs >= this.o.launchTimeoutMs) {
        this.unlisted.delete(id);
        this.log.warn({ id, type: u.instance.type }, 'a launched instance never appeared in the provider listing; forgetting it');
      } else {
        out.push({ ...u.instance, state: 'pending' });
      }
    }
    // A lost launch the listing already shows (by its token) is counted once: its listed
    // instances stand in for as many placeholders, which would else be counted beside them (and
    // the listed ones, pending, terminated as a surplus). Sending it again still settles it.
    const listedByToken = new Map<string, number>();
    for (const i of out) if (i.clientToken !== undefined && this.unanswered.has(i.clientToken)) listedByToken.set(i.clientToken, (listedByToken.get(i.clientToken) ?? 0) + 1);
    for (const [token, u] of this.unanswered) for (const i of u.placeholders.slice(listedByToken.get(token) ?? 0)) out.push({ ...i });
    // Forget what is gone (terminated, died): no state grows without bound. The router forgets
    // it too: a dead instance left there would keep its address, which the cloud may give to a
    // new instance (the router refuses a second backend at one address).
    // (Deregistered by the next reconcile that acts: a dry run changes nothing at the router.)
    // One listing that misses an instance is not proof it is gone: it must miss two in a row
    // (this one and the one before), else a drain in progress would be forgotten and the
    // instance cut with requests in flight.
    for (const id of seen.keys()) this.gone.delete(id);
    if (this.listedBefore) {
      for (const id of new Set([...this.drainingSince.keys(), ...this.registered])) {
        if (seen.has(id) || previous.has(id)) continue;
        this.gone.add(id);
        this.drainingSince.delete(id);
        this.registered.delete(id);
      }
    }
    this.listedBefore = true;
    return out;
  }

  /** Tells the router to forget the instances that are gone (see fleet()); one that fails is asked again next time. */
  private async deregisterGone(): Promise<void> {
    for (const id of [...this.gone]) {
      try {
        await this.o.membership.deregister(id);
        this.gone.delete(id);
      } catch (e) {
        this.log.warn({ id, err: (e as Error).message }, 'an instance that is gone could not be deregistered from the router');
      }
    }
  }

  /** Remembers what a launch returned until list() shows it, and its token as spent (bounded). */
  private recordLaunch(got: readonly Instance[], token: string, atMs: Ms): void {
    for (const i of got) if (isActive(i)) this.unlisted.set(i.id, { instance: i, sinceMs: atMs });
    this.spentTokens.add(token);
    while (this.spentTokens.size > 1000) this.spentTokens.delete(this.spentTokens.values().next().value!);
  }

  /**
   * Launches not listed yet that the cloud has already ended (EC2 terminates an instance at once
   * when, say, its AMI or volume key fails): forgotten, so they no longer hold money and a place
   * in the target, and their type cooled down like a capacity error, since launching it again
   * now would end the same way. Asked only of providers that can describe instances by id.
   */
  private async endedAtOnce(): Promise<void> {
    if (this.unlisted.size === 0 || this.o.provider.describe === undefined) return;
    let seen: Instance[];
    try {
      seen = await this.o.provider.describe([...this.unlisted.keys()]);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'launches not listed yet could not be described; keeping them');
      return;
    }
    for (const i of seen) {
      const u = this.unlisted.get(i.id);
      if (u === undefined || (i.state !== 'terminated' && i.state !== 'shutting-down')) continue;
      this.unlisted.delete(i.id);
      const action: ReconcileAction = { kind: 'launch', type: u.instance.type, pool: u.instance.pool, count: 1, clientToken: '', reason: `${i.id} ended right after its launch` };
      const message = `${i.id} (${i.type}) was ${i.state === 'terminated' ? 'terminated' : 'shutting down'} by the cloud right after its launch; ${i.type} cools down as after a capacity error`;
      this.settled.failures.push({ action, code: 'MIXSCALE_CLOUD_CAPACITY', message });
      if (!this.settled.capacityErrors.includes(i.type)) this.settled.capacityErrors.push(i.type);
      this.log.warn({ id: i.id, type: i.type }, message);
    }
  }

  /** Sends each unanswered launch again with its token (see `unanswered`); gives up after launchTimeoutMs. */
  private async settleUnanswered(): Promise<void> {
    for (const [token, u] of this.unanswered) {
      const now = this.o.clock.now();
      const action: ReconcileAction = { kind: 'launch', type: u.spec.type, pool: u.spec.pool, count: u.spec.count, clientToken: token, reason: 'settling a launch whose answer was lost' };
      if (now - u.sinceMs >= this.o.launchTimeoutMs) {
        this.unanswered.delete(token);
        this.log.warn({ action }, 'a launch whose answer was lost could not be settled within the launch timeout; forgetting it');
        continue;
      }
      try {
        const got = await this.o.provider.launch(u.spec);
        this.unanswered.delete(token);
        this.recordLaunch(got, token, now);
        this.log.info({ action, ids: got.map((i) => i.id) }, `settled a launch whose answer was lost: ${got.length}×${u.spec.type}`);
      } catch (e) {
        const code = isMixscaleError(e) ? e.code : 'MIXSCALE_INTERNAL';
        this.settled.failures.push({ action, code, message: (e as Error).message });
        // Refused for sure (no capacity, a client error): nothing was launched. Unknown again, or
        // throttled (refused before EC2 looked at the token, so it says nothing of the first
        // call): keep asking.
        if (refusedForSure(e)) {
          this.unanswered.delete(token);
          if (code === 'MIXSCALE_CLOUD_CAPACITY' && !this.settled.capacityErrors.includes(u.spec.type)) this.settled.capacityErrors.push(u.spec.type);
        }
        this.log.warn({ action, code, err: (e as Error).message }, 'settling a launch whose answer was lost failed');
      }
    }
  }

  /**
   * Checks what this reconciler believes of the router against what the router holds (when the
   * membership can say), and takes the router's word:
   * - an instance registered here that the router no longer has (the router restarted) is
   *   registered again this tick;
   * - one the router drains while it is counted here as serving (a drain whose answer was
   *   lost, a drain by hand) is draining: it is terminated once idle, and replaced;
   * - a running instance the router already serves (a restarted controller) counts as registered;
   * - a backend at the address of an instance about to be registered, under an id the listing
   *   does not have, is stale (a dead instance whose address went to the new one): it is removed
   *   first, since the router refuses two backends at one address.
   */
  private async syncMembership(fleet: readonly Instance[]): Promise<Instance[]> {
    const membership = this.o.membership;
    if (membership.members === undefined) return [...fleet];
    let members: ReadonlyMap<string, { readonly url: string; readonly draining: boolean }>;
    try {
      members = await membership.members();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, "the router's backends could not be listed; acting on what this controller remembers");
      return [...fleet];
    }
    const now = this.o.clock.now();
    for (const id of [...this.registered]) {
      if (members.has(id)) continue;
      this.registered.delete(id);
      this.log.warn({ id }, 'the router no longer has this backend (restarted?); registering it again');
    }
    const listed = new Set(fleet.map((i) => i.id));
    const out = fleet.map((i) => {
      const b = members.get(i.id);
      if (b === undefined || i.state !== 'running') return i;
      if (!b.draining) {
        this.registered.add(i.id);
        return i;
      }
      if (this.drainingSince.has(i.id)) return i;
      this.drainingSince.set(i.id, now);
      this.registered.delete(i.id);
      this.log.warn({ id: i.id }, 'the router drains this instance; it is retired and replaced');
      return { ...i, state: 'draining' as const };
    });
    for (const i of out) {
      if (i.state !== 'running' || this.registered.has(i.id) || i.address === undefined) continue;
      for (const [id, b] of members) {
        if (id === i.id || listed.has(id) || sameOrigin(b.url, i.address) !== true) continue;
        try {
          await membership.deregister(id);
          this.log.warn({ id, url: b.url, instance: i.id }, 'removed a stale backend at the address of a new instance');
        } catch (e) {
          this.log.warn({ id, err: (e as Error).message }, 'a stale backend at the address of a new instance could not be removed');
        }
      }
    }
    return out;
  }

  /** Types refused capacity since the last reconcile, found by fleet() (see endedAtOnce, settleUnanswered). */
  refusedTypes(): readonly string[] {
    return this.settled.capacityErrors;
  }

  /** Instances known only from launch answers, or standing in for a lost one: never terminated or registered. */
  private unlistedIds(): Set<string> {
    const ids = new Set(this.unlisted.keys());
    for (const u of this.unanswered.values()) for (const i of u.placeholders) ids.add(i.id);
    return ids;
  }

  /**
   * One reconcile step toward `desired`. Never throws for a failed action: failures are
   * logged and returned, and the next step retries from the fresh state.
   */
  async reconcile(desired: Mix, budgetUsdPerHour: number, opts: { dryRun?: boolean; fleet?: readonly Instance[] } = {}): Promise<ReconcileResult> {
    const dryRun = opts.dryRun ?? false;
    let fleet = opts.fleet ?? (await this.fleet());
    if (!dryRun) {
      await this.deregisterGone();
      fleet = await this.syncMembership(fleet);
    }
    const inFlight = new Map<string, number>();
    for (const i of fleet) {
      if (i.state !== 'draining') continue;
      try {
        inFlight.set(i.id, await this.o.membership.inFlight(i.id));
      } catch (e) {
        this.log.warn({ id: i.id, err: (e as Error).message }, 'in-flight count unavailable; treating as busy');
      }
    }
    const nowMs = this.o.clock.now();
    const plan = planActions(
      desired,
      budgetUsdPerHour,
      { nowMs, fleet, drainingSinceMs: this.drainingSince, inFlight, registered: this.registered, spentTokens: this.spentTokens, unlisted: this.unlistedIds() },
      this.rules(),
    );
    const failures: ActionFailure[] = this.settled.failures;
    const capacityErrors: string[] = this.settled.capacityErrors;
    this.settled = { failures: [], capacityErrors: [] };
    if (!dryRun) await this.act(plan, budgetUsdPerHour, fleet, failures, capacityErrors);
    for (const a of plan.actions) if (a.kind === 'drain' && a.reason.includes('serving gap')) this.log.warn({ id: a.id, type: a.type, dryRun }, `mix change needs a serving gap: ${a.reason}`);
    if (this.log.isLevelEnabled('info')) {
      for (const a of plan.actions) this.log.info({ action: a.kind === 'register' ? { ...a, instance: undefined } : a, dryRun }, `${dryRun ? 'would ' : ''}${a.kind} ${'id' in a ? a.id : `${a.count}×${a.type}`}: ${a.reason}`);
    }
    return {
      atMs: nowMs,
      dryRun,
      target: plan.target,
      actions: plan.actions,
      failures,
      capacityErrors,
      spendUsdPerHour: plan.spendUsdPerHour,
      plannedSpendUsdPerHour: plan.plannedSpendUsdPerHour,
      waiting: plan.waiting,
      budgetUsdPerHour,
      fleet,
    };
  }

  /**
   * Applies a plan. The plan counted the money of its terminations as free for its launches;
   * if a termination fails that money is still billed, so each launch is checked again against
   * what is billed now and cut (or skipped) to what the budget holds.
   */
  private async act(plan: ActionPlan, budget: number, fleet: readonly Instance[], failures: ActionFailure[], capacityErrors: string[]): Promise<void> {
    const fail = (action: ReconcileAction, e: unknown): string => {
      const code = isMixscaleError(e) ? e.code : 'MIXSCALE_INTERNAL';
      const message = (e as Error).message;
      failures.push({ action, code, message });
      if (code === 'MIXSCALE_CLOUD_CAPACITY' && action.kind === 'launch' && !capacityErrors.includes(action.type)) capacityErrors.push(action.type);
      this.log.warn({ action, code, err: message }, `${action.kind} failed`);
      return code;
    };
    const priceById = new Map(fleet.map((i) => [i.id, instancePrice(i, this.o.priceOf)]));
    /** Billed spend as it stands while acting: the fleet's, less what was terminated, plus what was launched. */
    let committed = plan.spendUsdPerHour;
    // Order: terminations and drains free money before launches spend it; registers last.
    const order = { terminate: 0, drain: 1, launch: 2, register: 3 } as const;
    const sorted = [...plan.actions].sort((a, b) => order[a.kind] - order[b.kind]);
    const terminateIds: { action: ReconcileAction; id: string }[] = [];
    for (const a of sorted) if (a.kind === 'terminate') terminateIds.push({ action: a, id: a.id });
    if (terminateIds.length > 0) {
      // Deregister first so the router stops sending; then one batched terminate call.
      for (const t of terminateIds) {
        try {
          await this.o.membership.deregister(t.id);
        } catch (e) {
          this.log.warn({ id: t.id, err: (e as Error).message }, 'deregister failed; terminating anyway');
        }
      }
      const terminated = (batch: readonly { id: string }[]): void => {
        for (const t of batch) {
          this.lastListed.delete(t.id);
          this.drainingSince.delete(t.id);
          this.registered.delete(t.id);
          committed -= priceById.get(t.id) ?? 0;
        }
      };
      try {
        await this.o.provider.terminate(terminateIds.map((t) => t.id));
        terminated(terminateIds);
      } catch (e) {
        // EC2 fails the whole call for one instance it may not terminate (termination protection,
        // an IAM condition): that one must not keep the rest billed for good. Refused on its
        // merits (not throttled, not unanswered), each is sent alone.
        if (terminateIds.length > 1 && isMixscaleError(e) && e.details.retryable !== true && e.details.outcomeUnknown !== true) {
          for (const t of terminateIds) {
            try {
              await this.o.provider.terminate([t.id]);
              terminated([t]);
            } catch (one) {
              fail(t.action, one);
            }
          }
        } else {
          for (const t of terminateIds) fail(t.action, e);
        }
      }
    }
    for (const a of sorted) {
      if (a.kind === 'launch') {
        const price = this.o.priceOf(a.type);
        const n = launchesThatFit(a.count, price, budget - committed);
        if (n < a.count) {
          const message = `${n} of ${a.count}×${a.type} fit the budget: $${fixed(committed, 2)}/h of $${fixed(budget, 2)}/h is still billed (a termination the plan counted on failed)`;
          failures.push({ action: a, code: 'MIXSCALE_BUDGET_INFEASIBLE', message });
          this.log.warn({ action: a, budgetUsdPerHour: budget, billedUsdPerHour: committed }, `launch cut: ${message}`);
          if (n === 0) continue;
        }
        // A cut launch is another request than the planned one: its own token, derived from the plan's.
        const planned = n === a.count ? a.clientToken : launchToken(this.rules().tokenPrefix, a.type, a.pool, n, [a.clientToken], 'cut');
        let clientToken = planned;
        try {
          let got = await this.o.provider.launch({ type: a.type, pool: a.pool, count: n, clientToken });
          // An answer with nothing active: an earlier run spent this token (a restarted controller
          // plans the same launch from the same fleet in the same time bucket) and its instances
          // are gone, so nothing started. Launch again under a token derived from it: as
          // deterministic, so a crash right after still finds these instances on restart.
          for (let g = 1; g <= 3 && !got.some(isActive); g++) {
            this.spentTokens.add(clientToken);
            this.log.info({ clientToken, type: a.type }, 'launch token already spent by a launch whose instances are gone; launching again under a new one');
            clientToken = launchToken(this.rules().tokenPrefix, a.type, a.pool, n, [planned], `again.${g}`);
            got = await this.o.provider.launch({ type: a.type, pool: a.pool, count: n, clientToken });
          }
          // Until list() shows them, only this answer knows they exist: remember them, so the
          // next plan (this tick's replan, or the next tick's) neither launches them again nor
          // spends their money twice.
          this.recordLaunch(got, clientToken, this.o.clock.now());
          committed += n * price;
        } catch (e) {
          // Only a capacity error says for sure that nothing was launched.
          if (fail(a, e) !== 'MIXSCALE_CLOUD_CAPACITY') committed += n * price;
          if (outcomeUnknown(e)) {
            const at = this.o.clock.now();
            const placeholders = Array.from({ length: n }, (_, k): Instance => ({ id: `unanswered:${clientToken}:${k}`, type: a.type, pool: a.pool, state: 'pending', launchedAtMs: at, usdPerHour: price }));
            this.unanswered.set(clientToken, { spec: { type: a.type, pool: a.pool, count: n, clientToken }, sinceMs: at, placeholders });
          }
        }
        continue;
      }
      try {
        if (a.kind === 'drain') {
          await this.o.membership.drain(a.id);
          this.drainingSince.set(a.id, this.o.clock.now());
          this.registered.delete(a.id);
        } else if (a.kind === 'register') {
          await this.o.membership.register(a.instance);
          this.registered.add(a.id);
        }
      } catch (e) {
        fail(a, e);
      }
    }
  }
}

/**
 * Whether a call sent again with its token was refused on its merits (no capacity, a client
 * error), which EC2 answers only once it has found no launch under that token: the first call
 * launched nothing. A throttled call (retryable) was turned away before that, and an unknown
 * outcome is unknown again: neither says anything of the first call.
 */
function refusedForSure(e: unknown): boolean {
  if (!isMixscaleError(e) || outcomeUnknown(e)) return false;
  return e.code === 'MIXSCALE_CLOUD_CAPACITY' || e.details.retryable !== true;
}

/** Whether a failed call may still have been carried out (see CloudProvider's errors). */
function outcomeUnknown(e: unknown): boolean {
  return isMixscaleError(e) && e.details.outcomeUnknown === true;
}

/** Whether two backend addresses (URLs or host:port) name one origin; undefined when either is not an address. */
function sameOrigin(a: string, b: string): boolean | undefined {
  const origin = (x: string): string | undefined => {
    try {
      return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(x) ? x : `http://${x}`).origin;
    } catch {
      return undefined;
    }
  };
  const oa = origin(a);
  const ob = origin(b);
  return oa === undefined || ob === undefined ? undefined : oa === ob;
}
