/**
 * The wire form of GET /v1/snapshot: what the controller reads each tick. Histograms are
 * HdrHistogram compressed base64 (LatencyHistogram.encode), values in ms.
 */
export interface ClassSnapshot {
  readonly name: string;
  readonly model: string;
  /** Requests that arrived in the window (rejected ones included). */
  readonly arrivals: number;
  readonly rps: number;
  readonly completed: number;
  readonly rejected: number;
  /** Request sizes seen in the window: [size, count] pairs, ascending by size. */
  readonly sizes: ReadonlyArray<readonly [number, number]>;
  /** End-to-end latency of the requests that finished in the window. */
  readonly latency: string;
}

export interface PoolSnapshot {
  readonly pool: string;
  readonly type: string;
  readonly backends: number;
  readonly completed: number;
  /** Busy fraction (0..1) of the pool's request slots over the window. */
  readonly utilization: number;
  readonly latency: string;
}

export interface RouterSnapshot {
  readonly atMs: number;
  readonly windowMs: number;
  readonly classes: readonly ClassSnapshot[];
  readonly pools: readonly PoolSnapshot[];
}
