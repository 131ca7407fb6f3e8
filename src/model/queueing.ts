/**
 * Multi-server queueing approximations for one pool: c identical servers, Poisson arrivals,
 * general service times, FCFS (what shortest-expected-delay routing within a pool amounts to:
 * each request goes to the server that frees up first).
 *
 * Waiting time: Erlang-C probability of waiting with the Allen–Cunneen correction of the mean,
 * E[Wq] ≈ C(c, a) · E[S] / (c − a) · (1 + Cs²) / 2, and an exponential conditional tail with that
 * conditional mean, P(Wq > t) ≈ C · exp(−t / θ). The tail is exact for M/M/c and a good
 * approximation for the nearly deterministic service of the profiles at moderate load.
 */

/** Probability that an arrival waits in M/M/c with c servers and offered load a = λ·E[S] (a < c). */
export function erlangC(c: number, a: number): number {
  if (!(a > 0)) return 0;
  if (a >= c) return 1;
  // Erlang-B by its stable recurrence, then C = B / (1 − ρ(1 − B)).
  let b = 1;
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
  const rho = a / c;
  return b / (1 - rho * (1 - b));
}

/** A pool's waiting-time law: P(Wq > t) = pWait · exp(−t / thetaMs) for t ≥ 0. */
export interface WaitLaw {
  /** Utilization λ·E[S] / c (≥ 1 means overloaded; the other fields are then Infinity / 1). */
  readonly rho: number;
  readonly pWait: number;
  /** Mean wait of those who wait (ms). */
  readonly thetaMs: number;
  /** Mean wait over all arrivals (ms). */
  readonly meanWaitMs: number;
}

const IDLE_WAIT: WaitLaw = { rho: 0, pWait: 0, thetaMs: 0, meanWaitMs: 0 };

/**
 * M/G/c waiting time (Allen–Cunneen). `ratePerMs` is the pool's arrival rate, `meanMs` and
 * `scv` its service-time mean and squared coefficient of variation, `servers` = c.
 */
export function mgcWait(servers: number, ratePerMs: number, meanMs: number, scv: number): WaitLaw {
  if (!(ratePerMs > 0) || !(meanMs > 0)) return IDLE_WAIT;
  if (servers <= 0) return { rho: Infinity, pWait: 1, thetaMs: Infinity, meanWaitMs: Infinity };
  const a = ratePerMs * meanMs;
  const rho = a / servers;
  if (rho >= 1) return { rho, pWait: 1, thetaMs: Infinity, meanWaitMs: Infinity };
  const pWait = erlangC(servers, a);
  const thetaMs = ((meanMs / (servers - a)) * (1 + scv)) / 2;
  return { rho, pWait, thetaMs, meanWaitMs: pWait * thetaMs };
}

/** P(Wq > t) under a wait law. */
export function waitTail(w: WaitLaw, tMs: number): number {
  if (tMs < 0) return 1;
  if (w.pWait === 0) return 0;
  if (!Number.isFinite(w.thetaMs)) return 1;
  return w.pWait * Math.exp(-tMs / w.thetaMs);
}
