import { basename } from 'node:path';
import { declaredModels, modelsOfPool, type LoadedConfig } from '../src/config/load.ts';
import { simSection } from '../src/config/sections/sim.ts';
import { BudgetSchedule } from '../src/control/budget-schedule.ts';
import { candidatesFromConfig, classesFromConfig, unprofiledByModel } from '../src/control/candidates.ts';
import { estimatorFromConfig } from '../src/control/estimator.ts';
import { ControlLoop } from '../src/control/loop.ts';
import { Reconciler } from '../src/control/reconciler.ts';
import { candidateServes, type CandidateType, type LoadObservation } from '../src/control/types.ts';
import { SimClock } from '../src/core/clock.ts';
import { ConfigError, MixscaleError, TraceError } from '../src/core/errors.ts';
import { silentLogger, type Logger } from '../src/core/log.ts';
import { Rng } from '../src/core/rng.ts';
import { pmfFromSamples, type SizeSpec } from '../src/core/sizes.ts';
import { sameMix, type Ms, type RequestClass } from '../src/core/types.ts';
import type { RoutableRequest } from '../src/routing/types.ts';
import { WaitQueue } from '../src/routing/waiting.ts';
import { createConfiguredRoutingPolicy } from '../policies/routing/index.ts';
import { createComparedScalingPolicy } from '../policies/scaling/index.ts';
import { SimCloud } from './cloud.ts';
import { EventHeap } from './engine.ts';
import { SimMetrics } from './metrics.ts';
import { Recorder, type DropReason } from './recorder.ts';
import { MAX_DECISIONS, type DecisionPoint, type LatencySummary, type SimRun } from './result.ts';
import { SimRouter } from './router.ts';
import { RequestTable, type ServiceNode } from './service.ts';
import { newTraceStats, poissonArrivals, readTraceChunks, type ArrivalChunk, type TraceStats } from './workload.ts';

export type SimSettings = ReturnType<typeof simSection.parse>;

/** Where arrivals come from when not from the config. */
export type ArrivalSource =
  | {
      readonly kind: 'trace';
      readonly path: string;
      readonly model?: string;
      readonly sizeColumn?: string;
      readonly timeScale?: number;
      readonly peakRps?: number;
      readonly startMs?: Ms;
      readonly durationMs?: Ms;
      readonly skipBadRows?: boolean;
      readonly sizeScale?: number;
    }
  | { readonly kind: 'poisson'; readonly rps: number; readonly durationMs: Ms; readonly sizes?: SizeSpec };

export interface SimOverrides {
  /** Scaling policy name (default: scaling.policy). */
  readonly scalingPolicy?: string;
  /** Routing policy name (default: routing.policy). */
  readonly routingPolicy?: string;
  readonly seed?: number;
  /** Replaces the config's trace / rps load. */
  readonly arrivals?: ArrivalSource;
  readonly logger?: Logger;
  /** Called now and then with simulated time (ms since the trace start). */
  readonly onProgress?: (simulatedMs: Ms) => void;
}

const EV_COMPLETE = 1;
const EV_WINDOW = 2;

/** The sim settings of a config, with defaults when it has no `sim:` section. */
export function simSettings(loaded: LoadedConfig): SimSettings {
  return loaded.config.sim ?? simSection.parse({});
}

/** The arrival source a config describes (trace or constant rate), or a usage error. */
export function configuredArrivals(loaded: LoadedConfig): ArrivalSource {
  const s = simSettings(loaded);
  if (s.trace !== undefined) {
    const t = s.trace;
    return {
      kind: 'trace',
      path: loaded.resolvePath(t.path),
      ...(t.model !== undefined ? { model: t.model } : {}),
      ...(t.sizeColumn !== undefined ? { sizeColumn: t.sizeColumn } : {}),
      timeScale: t.timeScale,
      ...(t.peakRps !== undefined ? { peakRps: t.peakRps } : {}),
      ...(t.start !== undefined ? { startMs: t.start } : {}),
      ...(t.duration !== undefined ? { durationMs: t.duration } : {}),
      skipBadRows: t.skipBadRows,
      sizeScale: t.sizeScale,
    };
  }
  if (s.rps !== undefined && s.duration !== undefined) return { kind: 'poisson', rps: s.rps, durationMs: s.duration };
  throw new MixscaleError('MIXSCALE_USAGE', `${loaded.source}: nothing to replay: set sim.trace.path or sim.rps + sim.duration (or pass --trace FILE)`);
}

function arrivalStream(src: ArrivalSource, sizes: SizeSpec, seed: number, stats: TraceStats): AsyncGenerator<ArrivalChunk> {
  if (src.kind === 'poisson') return poissonArrivals({ rps: src.rps, durationMs: src.durationMs, sizes: src.sizes ?? sizes, seed, stats });
  return readTraceChunks({ ...src, sizes, seed, stats });
}

function summary(h: { quantile(q: number): number; maxMs: number; meanMs: number }): LatencySummary {
  return { p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), p999: h.quantile(0.999), max: h.maxMs, mean: h.meanMs };
}

/**
 * Runs one simulation: the real scaling policy, ControlLoop and Reconciler drive a simulated
 * cloud on a simulated clock; the real routing policy, through the same PoolTracker as the HTTP
 * router, sends each arrival to a simulated instance whose service time is drawn from the
 * measured profile. Returns the run's JSON object. The same config, overrides and seed give
 * the same result (wallClockMs and simulatedRequestsPerSecond aside).
 */
export async function runSimulation(loaded: LoadedConfig, overrides: SimOverrides = {}): Promise<SimRun> {
  const wallStart = performance.now();
  const cfg = loaded.config;
  const sim = simSettings(loaded);
  const seed = overrides.seed ?? sim.seed;
  const logger = overrides.logger ?? silentLogger;
  const scalingName = overrides.scalingPolicy ?? cfg.scaling.policy;
  const routingName = overrides.routingPolicy ?? cfg.routing.policy;
  const source = overrides.arrivals ?? configuredArrivals(loaded);

  const classes = classesFromConfig(loaded);
  const candidates = candidatesFromConfig(loaded);
  const types = [...new Set(candidates.map((c) => c.type))];
  const poolOfType = new Map(cfg.pools.map((p) => [p.type, p.name]));
  const budget = new BudgetSchedule(cfg.budget.usdPerHour, cfg.budget.schedule, { utc: true });
  const budgetAt = (t: Ms): number => budget.at(t);

  // Independent streams, so the arrival sequence and class labels are the same whatever the
  // policies do with the others.
  const root = new Rng(seed);
  const arrivalSeed = root.nextU32();
  const classRng = root.fork();
  const serviceRng = root.fork();
  const routingRng = root.fork();
  const metricsRng = root.fork();
  const cloudRng = root.fork();

  // Options belong to the configured policy; another policy (--compare, --routing) runs with its defaults.
  const scaling = createComparedScalingPolicy(scalingName, cfg.scaling.policy, cfg.scaling.options, { lateBinding: cfg.routing.lateBinding });
  const routing = createConfiguredRoutingPolicy(routingName, cfg.routing.policy, cfg.routing.options);

  const interval = cfg.scaling.interval;
  const maxBoot = Math.max(...candidates.map((c) => c.bootMs), 0);
  const warmupMs = sim.warmStart ? Math.ceil(maxBoot / interval) * interval + interval : 0;
  const clock = new SimClock(-warmupMs);

  // Arrivals: the first chunk also gives the warm-up its picture of the starting load.
  const stats = newTraceStats();
  const arrivals = arrivalStream(source, sim.sizes, arrivalSeed, stats);
  let chunk: ArrivalChunk | undefined = (await arrivals.next()).value ?? undefined;
  if (chunk === undefined) refuseNoArrivals(source, loaded.source);
  refuseUnservableSizes(chunk, source, classes, candidates);
  let idx = 0;
  const shares = classes.map((c) => c.share);
  const shareTotal = shares.reduce((a, b) => a + b, 0);
  const cumShare = Float64Array.from(shares, (_, i) => shares.slice(0, i + 1).reduce((a, b) => a + b, 0) / shareTotal);
  const prior = warmupMs > 0 && chunk !== undefined ? startingLoad(chunk, classes.map((c) => c.name), cumShare, sim.window) : undefined;

  const metrics = new SimMetrics({ classes, types, rng: metricsRng, startMs: -warmupMs, ...(prior !== undefined ? { prior } : {}) });
  const recorder = new Recorder({ classes, types, windowMs: sim.window, startMs: 0, metrics });
  const reqs = new RequestTable();
  const heap = new EventHeap();

  const lateBinding = cfg.routing.lateBinding;
  const waiting = new WaitQueue<number>(cfg.routing.maxWaiting);
  let router: SimRouter;
  const cloud = new SimCloud({
    clock,
    catalog: loaded.catalog,
    bootMs: Object.fromEntries(candidates.map((c) => [c.type, c.bootMs])),
    capacityErrorRate: sim.capacityErrorRate,
    rng: cloudRng,
    budgetAt,
    nextBudgetChange: (t) => budget.nextBoundary(t),
    onTerminated: (instance) => {
      const node = router.gone(instance.id);
      if (node !== undefined) failQueued(node, clock.now());
    },
  });
  const typeInfo = new Map(candidates.map((c) => [c.type, { fast: c.fast, slots: c.slots }]));
  router = new SimRouter({
    policy: routing,
    rng: routingRng,
    // Event time of the hot loop: the clock itself only moves at control instants.
    now: () => now,
    profileOf: (type, model) => loaded.profiles.table(type, model),
    classModels: classes.map((c) => c.model),
    modelsOf: declaredModels(cfg),
    types,
    typeInfo: (type) => typeInfo.get(type) ?? { fast: loaded.catalog.isAccelerated(type), slots: 1 },
    maxOutstandingPerSlot: lateBinding ? 1 : sim.maxOutstandingPerSlot,
    onJoin: (node) => {
      metrics.slots(node.typeIndex, node.slots, clock.now());
      bindWaiting(node, clock.now());
    },
    onLeave: (node) => {
      metrics.slots(node.typeIndex, -node.slots, clock.now());
      if (lateBinding) rebindWaiting(clock.now());
    },
  });

  router.tracker.lateBinding = lateBinding;

  const reconciler = new Reconciler({
    provider: cloud,
    modelsOf: modelsOfPool(cfg),
    membership: router,
    clock,
    logger,
    priceOf: (t) => loaded.catalog.price(t),
    poolOf: (t) => poolOfType.get(t) ?? t,
    launchTimeoutMs: cfg.controller?.launchTimeout ?? 600_000,
    // The controller's settings, as the controller passes them (their defaults without a section).
    ...(cfg.controller !== undefined ? { drainTimeoutMs: cfg.controller.drainTimeout } : {}),
    cluster: 'sim',
  });
  // The estimator the controller would run (controller.estimator).
  const estimator = estimatorFromConfig(cfg.controller?.estimator);
  const loop = new ControlLoop({
    clock,
    metrics,
    ...(estimator !== undefined ? { estimator } : {}),
    policy: scaling,
    reconciler,
    classes,
    candidates: () => candidates,
    budgetAt,
    logger,
    ...(cfg.controller !== undefined ? { capacityCooldownMs: cfg.controller.capacityCooldown } : {}),
  });

  // Sizes beyond what a class's model is measured at on every type cannot be served anywhere.
  const classMaxSize = Float64Array.from(classes, (c) => Math.max(...candidates.filter((t) => candidateServes(t, c.model)).map((t) => t.profile(c.model).maxSize)));
  const sloMs = Float64Array.from(classes, (c) => c.sloMs);

  let arrivalsDone = chunk === undefined;
  let tickFailure: unknown;
  let ticks = 0;
  let failedTicks = 0;
  const decisions: DecisionPoint[] = [];
  let lastDecided: Readonly<Record<string, number>> | undefined;
  const runTick = (): void => {
    loop
      .tick()
      .then((rec) => {
        ticks++;
        if (rec.status === 'failed') failedTicks++;
        if (rec.decision !== undefined && (lastDecided === undefined || !sameMix(lastDecided, rec.decision.mix)) && decisions.length < MAX_DECISIONS) {
          decisions.push({ tMs: rec.atMs, mix: rec.decision.mix, reason: rec.decision.reason });
          lastDecided = rec.decision.mix;
        }
      })
      .catch((e: unknown) => (tickFailure = e));
  };
  const tick = (): void => {
    if (arrivalsDone) return;
    runTick();
    clock.setTimeout(tick, interval);
  };
  clock.setTimeout(tick, 0);
  // As the controller's scheduler does, an extra tick at each budget-schedule boundary, so a new
  // budget applies at once (one that falls on a regular tick is that tick).
  const onGrid = (t: Ms): boolean => (t + warmupMs) % interval === 0;
  const budgetTick = (): void => {
    if (arrivalsDone) return;
    if (!onGrid(clock.now())) runTick();
    nextBudgetTick();
  };
  const nextBudgetTick = (): void => {
    const at = budget.nextBoundary(clock.now());
    if (at !== undefined) clock.setTimeout(budgetTick, at - clock.now());
  };
  nextBudgetTick();
  let costAtStart = 0;
  let rateIntegralAtStart = 0;
  clock.setTimeout(() => {
    costAtStart = cloud.totalUsd(0);
    rateIntegralAtStart = cloud.rateIntegralAt(0);
  }, warmupMs);

  function failQueued(node: ServiceNode, now: Ms): void {
    while (node.queued > 0) {
      const id = node.dequeue();
      router.tracker.finished(node.backend, reqs.expected[id]!);
      recorder.dropped(reqs.cls[id]!, 'terminated', reqs.arrival[id]!, now);
      reqs.release(id);
    }
  }

  /** When the waiting requests being expired are dropped (set before each expire: no closure per call). */
  let expireAtMs: Ms = 0;
  const expired = (id: number): void => {
    recorder.dropped(reqs.cls[id]!, 'deadline', reqs.arrival[id]!, expireAtMs);
    reqs.release(id);
  };
  /** Late binding: gives `node`'s free slots the waiting requests the routing policy picks for it. */
  function bindWaiting(node: ServiceNode, t: Ms): void {
    if (waiting.length === 0 || node.gone) return;
    expireAtMs = t;
    waiting.expire(t, expired);
    while (node.busy < node.slots && waiting.bind(node.backend, routing, router.tracker)) {
      const id = waiting.boundHandle!;
      if (!dispatchTo(id, node, t)) continue;
      if (batchMax > 0 && node.backend.fast) {
        // A fast node batches: waiting requests of the same class join, oldest first, up to the batch size.
        const cls = reqs.cls[id]!;
        const limit = Math.min(batchMax, node.tables[cls]!.maxSize);
        let size = reqs.size[id]!;
        let last = id;
        const lane = waiting.lane(classes[cls]!.model)!;
        for (let i = 0; i < lane.length && size < limit; ) {
          const r = lane.at(i)!;
          if (r.classIndex !== cls || size + r.size > limit) {
            i++;
            continue;
          }
          const next = lane.removeAt(i);
          dispatchTo(next, node, t);
          size += r.size;
          reqs.nextInBatch[last] = next;
          last = next;
        }
        start(id, node, t, size);
      } else start(id, node, t);
    }
  }

  /**
   * Late binding, as the router does when a backend stops taking requests: the waiting requests
   * are offered every node with a free slot, and those whose model no node takes any more are
   * dropped at once (no-backend) instead of at their deadline.
   */
  function rebindWaiting(t: Ms): void {
    if (waiting.length === 0) return;
    for (const n of router.nodes) if (!n.gone && n.backend.accepting && n.busy < n.slots) bindWaiting(n, t);
    waiting.removeStranded(
      (model) => !router.tracker.viewFor(model).backends.some((b) => b.accepting),
      (id) => {
        recorder.dropped(reqs.cls[id]!, 'no-backend', reqs.arrival[id]!, t);
        reqs.release(id);
      },
    );
  }

  /** Counts a waiting request as dispatched to `node`; false (and dropped) when its type has no profile for its size. */
  function dispatchTo(id: number, node: ServiceNode, t: Ms): boolean {
    const cls = reqs.cls[id]!;
    const size = reqs.size[id]!;
    if (!(size <= node.tables[cls]!.maxSize)) {
      recorder.dropped(cls, 'unprofiled', reqs.arrival[id]!, t);
      reqs.release(id);
      return false;
    }
    const expected = node.means[cls]!.meanMs(size);
    reqs.expected[id] = expected;
    reqs.node[id] = node.index;
    router.tracker.dispatched(node.backend, expected);
    return true;
  }

  const batchMax = sim.batchMaxSize;
  /** Starts serving request `id` (with the requests chained to it, whose sizes sum to `batched`). */
  const start = (id: number, node: ServiceNode, now: Ms, batched = 0): void => {
    const cls = reqs.cls[id]!;
    let size = batched > 0 ? batched : reqs.size[id]!;
    if (batchMax > 0 && node.backend.fast && node.queued > 0) {
      // Queued requests of the same class ride along as one query of the summed size.
      const limit = Math.min(batchMax, node.tables[cls]!.maxSize);
      let last = id;
      while (node.queued > 0) {
        const head = node.peek();
        if (reqs.cls[head] !== cls || size + reqs.size[head]! > limit) break;
        node.dequeue();
        size += reqs.size[head]!;
        reqs.nextInBatch[last] = head;
        last = head;
      }
    }
    const svc = node.serviceMs(cls, size, serviceRng.next());
    node.busy++;
    metrics.busy(node.typeIndex, svc);
    heap.push(now + svc, EV_COMPLETE, id);
  };

  // The first window opens at t = 0, after the control tick there and before any arrival.
  heap.push(0, EV_WINDOW, 1);
  heap.push(sim.window, EV_WINDOW, 0);
  let now: Ms = -warmupMs;
  let nextTimer = clock.nextTimerAt();
  let lastT = 0;
  let lastArrivalMs = 0;
  let progressAt = 0;
  const fleetSample = (now: Ms) => {
    const mix: Record<string, number> = {};
    for (const i of cloud.instances()) mix[i.type] = (mix[i.type] ?? 0) + 1;
    return { mix, usdPerHour: cloud.usdPerHour(), budgetUsdPerHour: budgetAt(now), usdPerHourMs: cloud.rateIntegralPeek(now) };
  };

  for (;;) {
    if (tickFailure !== undefined) throw tickFailure;
    const tA = chunk !== undefined ? chunk.tMs[idx]! : Infinity;
    const tH = heap.peekTime();
    // Control instants: let the async tick finish at its simulated time before going on.
    if (!arrivalsDone && nextTimer <= tA && nextTimer <= tH) {
      now = nextTimer;
      await clock.advanceToSettled(nextTimer);
      nextTimer = clock.nextTimerAt();
      continue;
    }
    if (tA === Infinity && tH === Infinity) break;
    if (tA < tH) {
      // An arrival.
      const t = tA;
      now = t;
      const size = chunk!.size[idx]!;
      let cls = 0;
      if (cumShare.length > 1) {
        const u = classRng.next();
        while (cls < cumShare.length - 1 && u >= cumShare[cls]!) cls++;
      }
      recorder.arrival(cls, size, t);
      if (!(size <= classMaxSize[cls]!)) {
        recorder.dropped(cls, 'unprofiled', t, t);
      } else {
        const node = router.route(cls, size, t, t + sloMs[cls]!);
        if (node === null) {
          if (lateBinding && router.lastReject === 'overloaded') {
            const id = reqs.alloc();
            reqs.arrival[id] = t;
            reqs.size[id] = size;
            reqs.cls[id] = cls;
            const req: RoutableRequest = { model: classes[cls]!.model, classIndex: cls, size, arrivalMs: t, deadlineMs: t + sloMs[cls]!, critical: false };
            if (!waiting.hold(req, id)) {
              reqs.release(id);
              recorder.dropped(cls, 'overloaded', t, t);
            }
          } else recorder.dropped(cls, router.lastReject as DropReason, t, t);
        } else {
          const id = reqs.alloc();
          reqs.arrival[id] = t;
          reqs.size[id] = size;
          reqs.cls[id] = cls;
          reqs.expected[id] = router.lastExpectedMs;
          reqs.node[id] = node.index;
          router.tracker.dispatched(node.backend, router.lastExpectedMs);
          if (node.busy < node.slots) start(id, node, t);
          else node.enqueue(id);
        }
      }
      lastT = t;
      lastArrivalMs = t;
      if (++idx === chunk!.length) {
        idx = 0;
        const next = await arrivals.next();
        chunk = next.done === true ? undefined : next.value;
        if (chunk === undefined) arrivalsDone = true;
        if (overrides.onProgress !== undefined && t - progressAt >= sim.window) {
          progressAt = t;
          overrides.onProgress(t);
        }
      }
      continue;
    }
    heap.pop();
    const t = heap.poppedTime;
    now = t;
    if (heap.poppedKind === EV_COMPLETE) {
      let id = heap.poppedArg;
      const node = router.nodes[reqs.node[id]!]!;
      node.busy--;
      // One request, or every request of a batch, finishes now.
      while (id >= 0) {
        const next = reqs.nextInBatch[id]!;
        reqs.nextInBatch[id] = -1;
        router.tracker.finished(node.backend, reqs.expected[id]!);
        if (node.gone) recorder.dropped(reqs.cls[id]!, 'terminated', reqs.arrival[id]!, t);
        else recorder.completed(reqs.cls[id]!, node.typeIndex, reqs.arrival[id]!, t);
        reqs.release(id);
        id = next;
      }
      if (node.queued > 0 && !node.gone) start(node.dequeue(), node, t);
      else if (lateBinding) bindWaiting(node, t);
      lastT = t;
    } else if (heap.poppedArg === 1) {
      recorder.openWith(fleetSample(t));
    } else if (!arrivalsDone || heap.size > 0) {
      // (The last window event, once nothing is left to happen, would close a window past the
      // run's end: the run's own end closes the last one instead.)
      recorder.closeWindow(t, fleetSample(t));
      if (!arrivalsDone) heap.push(t + sim.window, EV_WINDOW, 0);
    }
  }
  let endMs = Math.max(lastT, 0);
  // Requests still waiting when no slot is left to free: none of them will be bound (the policy
  // declined each one it was offered), so each is dropped at its deadline, as the router's
  // deadline timer would, in deadline order, and the run ends when the last is settled.
  if (waiting.length > 0) {
    const left: Array<{ id: number; deadlineMs: Ms }> = [];
    waiting.expire(Infinity, (id, req) => left.push({ id, deadlineMs: req.deadlineMs }));
    left.sort((a, b) => a.deadlineMs - b.deadlineMs);
    for (const { id, deadlineMs } of left) {
      const at = Math.max(endMs, deadlineMs);
      recorder.dropped(reqs.cls[id]!, 'deadline', reqs.arrival[id]!, at);
      reqs.release(id);
      endMs = at;
    }
  }
  clock.advanceTo(endMs);
  // The load's end, the same for every policy: the Poisson run's length, or where the trace's
  // window or the trace itself ends, whichever is first (simulated time); never before its last arrival.
  const loadLengthMs = source.kind === 'poisson' ? source.durationMs : (stats.endMs ?? 0);
  recorder.closeRun(endMs, fleetSample(endMs), Math.max(lastArrivalMs, loadLengthMs));

  const overall = recorder.overall();
  let total = 0;
  let completed = 0;
  let dropped = 0;
  let within = 0;
  const perClass: Record<string, SimRun['perClass'][string]> = {};
  classes.forEach((c, i) => {
    const t = recorder.perClass[i]!;
    total += t.arrivals;
    completed += t.completed;
    dropped += t.dropped;
    within += t.withinSlo;
    const attainment = t.arrivals === 0 ? 1 : t.withinSlo / t.arrivals;
    perClass[c.name] = {
      model: c.model,
      requests: { total: t.arrivals, completed: t.completed, dropped: t.dropped, inFlight: t.arrivals - t.completed - t.dropped },
      latencyMs: summary(t.latency),
      slo: { targetMs: c.sloMs, quantile: c.sloQuantile, attainment, met: attainment >= c.sloQuantile },
    };
  });
  const perType: Record<string, SimRun['perType'][string]> = {};
  types.forEach((t, i) => (perType[t] = { completed: recorder.perType[i]!.count, latencyMs: summary(recorder.perType[i]!) }));
  const little = recorder.little(0, endMs);
  const totalUsd = cloud.totalUsd(endMs) - costAtStart;
  const wallClockMs = performance.now() - wallStart;
  return {
    policy: scaling.name,
    router: routing.name,
    seed,
    requests: { total, completed, dropped, inFlight: reqs.live, dropReasons: { ...recorder.drops } },
    latencyMs: summary(overall),
    perClass,
    perType,
    slo: { targetMs: classes[0]!.sloMs, attainment: total === 0 ? 1 : within / total },
    cost: {
      totalUsd,
      budgetUsdPerHour: cfg.budget.usdPerHour,
      maxUsdPerHour: cloud.maxUsdPerHour(),
      meanUsdPerHour: endMs > 0 ? (cloud.rateIntegralAt(endMs) - rateIntegralAtStart) / endMs : 0,
      overBudgetSeconds: cloud.overBudgetSeconds(endMs),
    },
    fleet: recorder.windows.map((w) => ({ tMs: w.tMs, mix: w.mix, usdPerHour: w.usdPerHour, meanUsdPerHour: w.meanUsdPerHour, budgetUsdPerHour: w.budgetUsdPerHour })),
    timeline: recorder.windows,
    cdf: overall.cdf(100),
    decisions,
    ticks: { total: ticks, failed: failedTicks },
    checks: {
      littleL: little.L,
      littleLambdaW: little.lambdaW,
      littleRelativeError: little.L === 0 ? 0 : Math.abs(little.L - little.lambdaW) / little.L,
      // Two bookkeepings: the recorder's counts and the request table's live handles.
      conservation: total === completed + dropped + reqs.live && recorder.inFlight === reqs.live,
    },
    trace: { rows: stats.rows, skippedRows: stats.skippedRows, arrivals: stats.arrivals, rateFactor: stats.rateFactor },
    simulatedMs: endMs,
    wallClockMs,
    simulatedRequestsPerSecond: wallClockMs > 0 ? (total * 1000) / wallClockMs : 0,
  };
}

/**
 * The load of the trace's first window, from its first chunk of arrivals: what a service that
 * had been running before the trace started would have observed.
 */
function startingLoad(chunk: ArrivalChunk, names: readonly string[], cumShare: Float64Array, windowMs: Ms): LoadObservation {
  let n = 0;
  while (n < chunk.length && chunk.tMs[n]! < windowMs) n++;
  const span = n < chunk.length ? windowMs : Math.max(1, chunk.tMs[chunk.length - 1]!);
  const sizes = pmfFromSamples(chunk.size.subarray(0, Math.max(1, Math.min(n, chunk.length))).filter((s) => !Number.isNaN(s)), 32);
  let prev = 0;
  return {
    atMs: 0,
    windowMs: span,
    classes: names.map((name, i) => {
      const share = cumShare[i]! - prev;
      prev = cumShare[i]!;
      return { name, rps: ((n * 1000) / span) * share, sizes };
    }),
  };
}

/**
 * Sizes above every profile of a class's model cannot be served (the router turns them away as
 * unprofiled). When every arrival of the first chunk is such a size for every class, the run would
 * drop everything: a mistake in the sizes (sim.sizes, or a trace's sizes and sizeScale), said up front.
 */
/**
 * Nothing to simulate (a header-only trace, an empty window, a tiny constant rate) is a mistake,
 * as `load` says, not a run of 0 requests all within SLO. A trace's window is marked
 * (`details.setting: 'window'`) so the CLI can name the flags or fields that set it.
 */
function refuseNoArrivals(source: ArrivalSource, config: string): never {
  if (source.kind === 'poisson') throw new MixscaleError('MIXSCALE_USAGE', `${config}: sim.rps ${source.rps} for ${source.durationMs} ms gives no arrivals: nothing to simulate`);
  const windowed = source.startMs !== undefined || source.durationMs !== undefined;
  const detail = windowed ? `no arrivals in the chosen window of ${basename(source.path)}: nothing to simulate` : 'no arrivals: nothing to simulate';
  throw new TraceError(`trace ${source.path}: ${detail}`, { file: source.path, ...(windowed ? { setting: 'window', detail } : {}) });
}

function refuseUnservableSizes(chunk: ArrivalChunk, source: ArrivalSource, classes: readonly RequestClass[], candidates: readonly CandidateType[]): void {
  if (chunk.length === 0) return;
  const sizes = pmfFromSamples(chunk.size.subarray(0, chunk.length).filter((x) => !Number.isNaN(x)), 64);
  if (sizes.sizes.length === 0) return;
  const limits = unprofiledByModel(sizes, classes, candidates);
  if (!limits.every((l) => l.share >= 1 - 1e-9)) return;
  const where = source.kind === 'poisson' ? 'sim.sizes' : `the sizes of trace ${source.path}${source.sizeScale !== undefined && source.sizeScale !== 1 ? ` (× sim.trace.sizeScale ${source.sizeScale})` : ''} (or sim.sizes, for a trace without sizes)`;
  const l = limits[0]!;
  throw new ConfigError(`${where}: every request size (the first ${chunk.length} arrivals: ${Math.min(...chunk.size.subarray(0, chunk.length))} and up) is above ${l.maxSize}, the largest size ${l.model} is profiled for; nothing could be served`);
}

