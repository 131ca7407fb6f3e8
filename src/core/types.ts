/** Domain types shared by the planner, router, controller and simulator. Times are ms. */

export type Ms = number;

export interface GpuSpec {
  readonly count: number;
  readonly name: string;
  readonly manufacturer: string;
  readonly memoryGiB: number;
}

export interface InstanceType {
  readonly name: string;
  readonly vcpu: number;
  readonly memoryGiB: number;
  readonly gpu: GpuSpec | null;
  readonly accelerator: { readonly count: number; readonly name: string; readonly manufacturer: string } | null;
  readonly arch: 'x86_64' | 'arm64';
  readonly usdPerHour: number;
}

/**
 * Lifecycle of an instance we own. Budget is counted over pending + running + draining:
 * all three are billed (or about to be). shutting-down: terminated, but not gone yet (a
 * provider lists it until it has; not billed, not served).
 */
export type InstanceState = 'pending' | 'running' | 'draining' | 'shutting-down' | 'terminated';

export const BILLED_STATES: ReadonlySet<InstanceState> = new Set(['pending', 'running', 'draining']);

export interface Instance {
  readonly id: string;
  readonly type: string;
  readonly pool: string;
  state: InstanceState;
  readonly launchedAtMs: Ms;
  /** When it became running (reachable); undefined while pending. */
  readyAtMs?: Ms;
  /** host:port or URL the router reaches it at, once known. */
  address?: string;
  readonly usdPerHour: number;
  /** The token of the launch that created it, where the provider says (EC2's ClientToken). */
  readonly clientToken?: string;
}

/** A class of requests with its own SLO: e.g. `interactive` p99 ≤ 350 ms. */
export interface RequestClass {
  readonly name: string;
  readonly model: string;
  /** Latency target in ms, counted from arrival to response (queueing included). */
  readonly sloMs: number;
  /** Fraction of requests that must meet sloMs, e.g. 0.99. */
  readonly sloQuantile: number;
  /** Relative share of the traffic when a trace does not label classes. */
  readonly share: number;
}

/** Instance counts per type, e.g. { 'g4dn.xlarge': 1, 'r5n.large': 13 }. Zero counts may be omitted. */
export type Mix = Readonly<Record<string, number>>;

export interface PredictedLatency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** At the class's own SLO quantile (p99 for most; p90, p95, ... where a class says so). */
  readonly sloQuantileMs: number;
  /** Predicted fraction of requests within the SLO. */
  readonly attainment: number;
}

/** The planner's answer: what to run, why, and what it expects. Pure data; the reconciler acts on it. */
export interface Plan {
  readonly mix: Mix;
  readonly usdPerHour: number;
  /** Per class name. */
  readonly predicted: Readonly<Record<string, PredictedLatency>>;
  /** Fraction of each class's traffic sent to each type, when the planner optimized a split. */
  readonly split?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The binding constraint or why this mix won, in words. */
  readonly reason: string;
  readonly search?: 'exact' | 'bounded' | 'fixed';
}

export function mixCost(mix: Mix, priceOf: (type: string) => number): number {
  let usd = 0;
  for (const [type, n] of Object.entries(mix)) usd += n * priceOf(type);
  return usd;
}

/** An instance that serves or soon will: pending or running (not draining, not gone). */
export const isActive = (i: Instance): boolean => i.state === 'pending' || i.state === 'running';

/** Counts of active (pending + running) instances per type: the fleet as it stands. */
export function activeMix(fleet: readonly Instance[]): Mix {
  const m: Record<string, number> = {};
  for (const i of fleet) if (isActive(i)) m[i.type] = (m[i.type] ?? 0) + 1;
  return m;
}

/** A stable, readable rendering: `1×g4dn.xlarge + 13×r5n.large` (types sorted by name). */
/** Whether two mixes hold the same count of each type (a type at 0 is a type absent). */
export function sameMix(a: Mix, b: Mix): boolean {
  const ka = Object.keys(a).filter((k) => a[k]! > 0);
  const kb = Object.keys(b).filter((k) => b[k]! > 0);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

export function formatMix(mix: Mix): string {
  const parts = Object.entries(mix)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([t, n]) => `${n}×${t}`);
  return parts.length === 0 ? '(empty)' : parts.join(' + ');
}
