import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { Clock, TimerHandle } from '../core/clock.ts';
import type { LatencyHistogram } from '../core/histogram.ts';
import type { Logger } from '../core/log.ts';
import type { RouterMetrics } from './metrics.ts';
import { CW_CLASS_DIMENSION, CW_LATENCY, CW_REQUESTS } from '../cloud/aws/cloudwatch-metrics.ts';

/** CloudWatch takes at most 150 distinct values per datum and 1000 datums per call. */
const MAX_VALUES = 150;
const MAX_DATUMS = 1000;

/**
 * Turns a latency histogram into CloudWatch's Values/Counts form (ms), so CloudWatch can
 * compute percentiles itself. Values are read at up to 150 quantile levels, denser in the
 * tail; equal values merge, and the counts add up to the histogram's count.
 */
export function valuesAndCounts(h: LatencyHistogram): { values: number[]; counts: number[] } {
  const n = h.count;
  if (n === 0) return { values: [], counts: [] };
  const levels: number[] = [];
  // Half the levels spread evenly, half in the last 10% (where SLOs live).
  const half = MAX_VALUES / 2;
  for (let i = 1; i <= half; i++) levels.push((0.9 * i) / half);
  for (let i = 1; i <= half; i++) levels.push(0.9 + (0.1 * i) / half);
  const values: number[] = [];
  const counts: number[] = [];
  let assigned = 0;
  for (const q of levels) {
    const upTo = Math.round(q * n);
    const c = upTo - assigned;
    if (c <= 0) continue;
    assigned = upTo;
    const v = Number(h.quantile(q).toFixed(3));
    if (values.length > 0 && values[values.length - 1] === v) counts[counts.length - 1]! += c;
    else {
      values.push(v);
      counts.push(c);
    }
  }
  return { values, counts };
}

/** Publishes the router's per-class latency and load to CloudWatch every interval, batched. */
export class CloudWatchPublisher {
  private timer: TimerHandle | undefined;

  constructor(
    private readonly o: { client: CloudWatchClient; namespace: string; intervalMs: number; metrics: RouterMetrics; clock: Clock; log: Logger },
  ) {}

  start(): void {
    this.o.metrics.takeInterval();
    const tick = (): void => {
      void this.publish().finally(() => {
        if (this.timer !== undefined) this.timer = this.o.clock.setTimeout(tick, this.o.intervalMs);
      });
    };
    this.timer = this.o.clock.setTimeout(tick, this.o.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.publish();
  }

  /** Sends what happened since the last call; failures are logged, not thrown (metrics are best effort). */
  async publish(): Promise<number> {
    const at = new Date(this.o.clock.now());
    const data: MetricDatum[] = [];
    for (const c of this.o.metrics.takeInterval()) {
      // Exactly the names and dimensions CloudWatchMetricsSource queries: a CloudWatch metric is
      // identified by all its dimensions, so an extra one here would make the controller read nothing.
      const dims = [{ Name: CW_CLASS_DIMENSION, Value: c.cls.name }];
      data.push({ MetricName: CW_REQUESTS, Dimensions: dims, Timestamp: at, Unit: 'Count', Value: c.arrivals });
      data.push({ MetricName: 'Rejected', Dimensions: dims, Timestamp: at, Unit: 'Count', Value: c.rejected });
      const { values, counts } = valuesAndCounts(c.latency);
      if (values.length > 0) data.push({ MetricName: CW_LATENCY, Dimensions: dims, Timestamp: at, Unit: 'Milliseconds', Values: values, Counts: counts });
    }
    let sent = 0;
    for (let i = 0; i < data.length; i += MAX_DATUMS) {
      try {
        await this.o.client.send(new PutMetricDataCommand({ Namespace: this.o.namespace, MetricData: data.slice(i, i + MAX_DATUMS) }));
        sent++;
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message }, 'CloudWatch PutMetricData failed; these metrics are dropped');
      }
    }
    return sent;
  }
}
