import assert from 'node:assert/strict';
import { CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchMetricsSource, CW_LATENCY, CW_REQUESTS } from '../../../src/cloud/aws/cloudwatch-metrics.ts';
import { isMixscaleError } from '../../../src/core/errors.ts';
import { awsError } from '../support/fake-ec2.ts';

const classes = [
  { name: 'interactive', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 },
  { name: 'batch', model: 'rm2', sloMs: 2000, sloQuantile: 0.99, share: 1 },
];
const sizes = { sizes: Float64Array.of(100), weights: Float64Array.of(1) };

describe('CloudWatchMetricsSource', () => {
  const client = new CloudWatchClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const cw = mockClient(client);
  afterEach(() => cw.reset());
  after(() => cw.restore());

  it('reads request counts and latency percentiles per class over the window', async () => {
    let asked: GetMetricDataCommandInput | undefined;
    cw.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => {
      asked = input;
      const byId: Record<string, number> = { n0: 1800, l0_0: 80, l0_1: 150, l0_2: 300, l0_3: 420, n1: 60 };
      return { MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: byId[q.Id!] !== undefined ? [byId[q.Id!]!] : [] })) };
    });
    const src = new CloudWatchMetricsSource({ client, namespace: 'mixscale/router', classes, windowMs: 60_000, sizes });
    const obs = await src.observe(Date.parse('2026-01-01T12:00:30Z'));
    const [interactive, batch] = obs.load.classes;
    assert.equal(interactive?.rps, 30);
    assert.equal(batch?.rps, 1);
    assert.ok(Math.abs(interactive!.latency!.quantile(0.99) - 300) / 300 < 0.02);
    assert.equal(batch?.latency, undefined, 'no latency data, no histogram');
    const q = asked!.MetricDataQueries!;
    assert.ok(q.some((m) => m.MetricStat?.Metric?.MetricName === CW_REQUESTS && m.MetricStat.Stat === 'Sum'));
    assert.ok(q.some((m) => m.MetricStat?.Metric?.MetricName === CW_LATENCY && m.MetricStat.Stat === 'p99'));
    assert.equal(asked!.EndTime?.toISOString(), '2026-01-01T12:00:00.000Z');
  });

  it('reports a class without a Requests datapoint as missing data (the loop holds), not as a class without load', async () => {
    // The router publishes Requests for every class every interval, zeros included: an empty
    // answer means it did not publish, or CloudWatch does not show it yet.
    cw.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
      MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: q.Id === 'n0' ? [1800] : [] })),
    }));
    const src = new CloudWatchMetricsSource({ client, namespace: 'mixscale/router', classes, windowMs: 60_000, sizes });
    await assert.rejects(src.observe(Date.parse('2026-01-01T12:00:30Z')), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_BACKEND_UNAVAILABLE' && /no Requests datapoint .* for class batch/.test(e.message));
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await assert.rejects(src.observe(Date.parse('2026-01-01T12:00:30Z')), /for class interactive, batch \(is the router publishing\?\)/);
    // A published zero is no load, and is read as such.
    cw.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
      MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: q.Id!.startsWith('n') ? [0] : [] })),
    }));
    assert.deepEqual((await src.observe(Date.parse('2026-01-01T12:00:30Z'))).load.classes.map((c) => c.rps), [0, 0]);
  });

  it('reports CloudWatch being unreachable as unavailable metrics (the loop then holds the fleet)', async () => {
    cw.on(GetMetricDataCommand).rejects(awsError('ServiceUnavailable', 'down', 503));
    const src = new CloudWatchMetricsSource({ client, namespace: 'mixscale/router', classes, windowMs: 60_000, sizes });
    await assert.rejects(src.observe(0), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_BACKEND_UNAVAILABLE');
  });
});
