import { GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { MixscaleError } from '../../core/errors.ts';
import { LatencyHistogram } from '../../core/histogram.ts';
import type { SizePmf } from '../../core/sizes.ts';
import type { Ms, RequestClass } from '../../core/types.ts';
import type { ClassLoad, MetricsSource, Observation } from '../../control/types.ts';
import { fromAwsError } from './errors.ts';

/** Metric names and dimension the router publishes (PutMetricData) and this source reads. */
export const CW_REQUESTS = 'Requests';
export const CW_LATENCY = 'LatencyMs';
export const CW_CLASS_DIMENSION = 'Class';

/**
 * Percentiles read, and the mass each stands for when the histogram is rebuilt: 50 % at or
 * below p50, 40 % up to p90, 9 % up to p99, 1 % above. The rebuilt histogram answers the
 * same p50/p90/p99 as CloudWatch did, which is all a tail-latency policy asks of it.
 */
const PERCENTILES = [
  { stat: 'p50', weight: 50 },
  { stat: 'p90', weight: 40 },
  { stat: 'p99', weight: 9 },
  { stat: 'p99.9', weight: 1 },
] as const;

export interface CloudWatchMetricsOptions {
  readonly client: CloudWatchClient;
  readonly namespace: string;
  readonly classes: readonly RequestClass[];
  /** Window observed, rounded up to whole minutes (CloudWatch's standard resolution). */
  readonly windowMs: Ms;
  /** CloudWatch does not carry request sizes: the size distribution to plan with. */
  readonly sizes: SizePmf;
}

/**
 * A MetricsSource over CloudWatch GetMetricData: request count (Sum) and latency percentiles
 * per class over the last window. Useful when the controller cannot reach the router, or to
 * run the controller from CloudWatch data alone.
 */
export class CloudWatchMetricsSource implements MetricsSource {
  constructor(private readonly o: CloudWatchMetricsOptions) {}

  async observe(nowMs: Ms): Promise<Observation> {
    const periodS = Math.max(60, Math.ceil(this.o.windowMs / 60_000) * 60);
    const queries: MetricDataQuery[] = [];
    this.o.classes.forEach((c, i) => {
      const dims = [{ Name: CW_CLASS_DIMENSION, Value: c.name }];
      queries.push({ Id: `n${i}`, MetricStat: { Metric: { Namespace: this.o.namespace, MetricName: CW_REQUESTS, Dimensions: dims }, Period: periodS, Stat: 'Sum' } });
      PERCENTILES.forEach((p, k) => {
        queries.push({ Id: `l${i}_${k}`, MetricStat: { Metric: { Namespace: this.o.namespace, MetricName: CW_LATENCY, Dimensions: dims }, Period: periodS, Stat: p.stat } });
      });
    });
    const end = new Date(Math.floor(nowMs / 60_000) * 60_000);
    const start = new Date(end.getTime() - periodS * 1000);
    const values = new Map<string, number>();
    let token: string | undefined;
    try {
      do {
        const r = await this.o.client.send(new GetMetricDataCommand({ MetricDataQueries: queries, StartTime: start, EndTime: end, ScanBy: 'TimestampDescending', ...(token !== undefined ? { NextToken: token } : {}) }));
        for (const m of r.MetricDataResults ?? []) {
          const v = m.Values?.[0];
          if (m.Id !== undefined && v !== undefined && !values.has(m.Id)) values.set(m.Id, v);
        }
        token = r.NextToken;
      } while (token !== undefined);
    } catch (e) {
      const err = fromAwsError(e, 'GetMetricData');
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', err.message, { ...err.details }, { cause: e });
    }
    // The router sends every class's Requests every interval, zero included: a class without a
    // datapoint in the window is missing data (the router not publishing, CloudWatch not showing
    // it yet), not a class without load. Planning it as idle would drain the fleet.
    const silent = this.o.classes.filter((_, i) => !values.has(`n${i}`)).map((c) => c.name);
    if (silent.length > 0) {
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `CloudWatch has no ${CW_REQUESTS} datapoint in ${this.o.namespace} from ${start.toISOString()} to ${end.toISOString()} for class ${silent.join(', ')} (is the router publishing?)`, { namespace: this.o.namespace, classes: silent });
    }
    const classes: ClassLoad[] = this.o.classes.map((c, i) => {
      const count = values.get(`n${i}`)!;
      const latency = new LatencyHistogram();
      let any = false;
      PERCENTILES.forEach((p, k) => {
        const v = values.get(`l${i}_${k}`);
        if (v !== undefined && v > 0) {
          latency.recordMany(v, p.weight);
          any = true;
        }
      });
      return { name: c.name, rps: count / periodS, sizes: this.o.sizes, ...(any ? { latency } : {}) };
    });
    return { load: { atMs: end.getTime(), windowMs: periodS * 1000, classes } };
  }
}
