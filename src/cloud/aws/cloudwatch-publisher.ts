import { PutMetricDataCommand, type CloudWatchClient, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { LatencyHistogram } from '../../core/histogram.ts';
import type { LoadObservation } from '../../control/types.ts';
import { CW_CLASS_DIMENSION, CW_LATENCY, CW_REQUESTS } from './cloudwatch-metrics.ts';
import { fromAwsError } from './errors.ts';

/** PutMetricData takes at most 150 distinct values per datum; a latency shape needs far fewer. */
const LATENCY_POINTS = 100;
/** And at most 1000 data per request. */
const DATA_PER_CALL = 1000;

/**
 * A histogram as CloudWatch Values/Counts: the value at each of LATENCY_POINTS equal-mass
 * quantiles, with its share of the count. CloudWatch computes percentiles from these, so
 * GetMetricData p99 over the window answers what the histogram did.
 */
export function latencyValuesCounts(h: LatencyHistogram): { values: number[]; counts: number[] } {
  const n = h.count;
  if (n === 0) return { values: [], counts: [] };
  const byValue = new Map<number, number>();
  const points = Math.min(LATENCY_POINTS, n);
  for (let k = 0; k < points; k++) {
    const v = h.quantile((k + 0.5) / points);
    byValue.set(v, (byValue.get(v) ?? 0) + n / points);
  }
  const values = [...byValue.keys()].sort((a, b) => a - b);
  return { values, counts: values.map((v) => byValue.get(v)!) };
}

/**
 * Publishes a window's load (requests and latency per class) in the form CloudWatchMetricsSource
 * reads back: `Requests` (Sum) and `LatencyMs` (values with counts), dimension `Class`.
 */
export async function publishObservation(client: CloudWatchClient, namespace: string, load: LoadObservation): Promise<void> {
  const at = new Date(load.atMs);
  const data: MetricDatum[] = [];
  for (const c of load.classes) {
    const dims = [{ Name: CW_CLASS_DIMENSION, Value: c.name }];
    data.push({ MetricName: CW_REQUESTS, Dimensions: dims, Timestamp: at, Unit: 'Count', Value: Math.round((c.rps * load.windowMs) / 1000) });
    if (c.latency !== undefined && c.latency.count > 0) {
      const { values, counts } = latencyValuesCounts(c.latency);
      data.push({ MetricName: CW_LATENCY, Dimensions: dims, Timestamp: at, Unit: 'Milliseconds', Values: values, Counts: counts });
    }
  }
  try {
    for (let i = 0; i < data.length; i += DATA_PER_CALL) {
      await client.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data.slice(i, i + DATA_PER_CALL) }));
    }
  } catch (e) {
    throw fromAwsError(e, 'PutMetricData');
  }
}
