import assert from 'node:assert/strict';
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import request from 'supertest';
import { CloudWatchMetricsSource } from '../../src/cloud/aws/cloudwatch-metrics.ts';
import { LatencyHistogram } from '../../src/core/histogram.ts';
import { valuesAndCounts } from '../../src/routing/cloudwatch.ts';
import { FakeBackend, inferBody } from './fake-backend.ts';
import { FirstAvailable, startRouter } from './harness.ts';

describe('router CloudWatch publishing', () => {
  // Each test mocks the client; restored even when an assertion fails, so no mock leaks into other suites.
  let mocked: { restore(): void } | undefined;
  afterEach(() => {
    mocked?.restore();
    mocked = undefined;
  });

  it('turns a histogram into at most 150 values whose counts add up to its count', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 10);
    const { values, counts } = valuesAndCounts(h);
    assert.ok(values.length <= 150 && values.length > 50, `${values.length} values`);
    assert.equal(counts.reduce((a, b) => a + b, 0), 10_000);
    assert.deepEqual([...values].sort((a, b) => a - b), values);
    // The 99th percentile rebuilt from values/counts is within a value step of the true one.
    let acc = 0;
    const p99 = values.find((_, i) => (acc += counts[i]!) >= 9_900)!;
    assert.ok(Math.abs(p99 - 990) < 2, `p99 ${p99}`);
  });

  it('publishes per-class requests, rejections and latency values/counts, batched, on close', async () => {
    const cw = mockClient(CloudWatchClient);
    mocked = cw;
    cw.on(PutMetricDataCommand).resolves({});
    const a = await new FakeBackend('a').start();
    const { server, url } = await startRouter(
      { cloudwatch: { namespace: 'test/router', interval: '1h' }, backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] },
      { policy: new FirstAvailable(), cloudwatchClient: new CloudWatchClient({ region: 'us-east-1' }) },
    );
    try {
      for (let i = 0; i < 5; i++) await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
      server.backends.drain('a');
      await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    } finally {
      await server.close();
      await a.stop();
    }
    const calls = cw.commandCalls(PutMetricDataCommand);
    assert.equal(calls.length, 1);
    const input = calls[0]!.args[0].input;
    assert.equal(input.Namespace, 'test/router');
    const find = (metric: string, cls: string) => input.MetricData!.find((d) => d.MetricName === metric && d.Dimensions!.some((x) => x.Name === 'Class' && x.Value === cls));
    assert.equal(find('Requests', 'interactive')!.Value, 6);
    assert.equal(find('Rejected', 'interactive')!.Value, 1);
    const latency = find('LatencyMs', 'interactive')!;
    assert.equal(latency.Unit, 'Milliseconds');
    assert.equal(latency.Counts!.reduce((x, y) => x + y, 0), 5);
    assert.equal(find('LatencyMs', 'batch'), undefined);
  });

  it('publishes under the names and dimensions the controller reads back (CloudWatchMetricsSource)', async () => {
    const cw = mockClient(CloudWatchClient);
    mocked = cw;
    cw.on(PutMetricDataCommand).resolves({});
    // Every query answered (an empty answer is missing data, which the source refuses).
    cw.on(GetMetricDataCommand).callsFake((input: { MetricDataQueries?: Array<{ Id?: string }> }) => ({ MetricDataResults: (input.MetricDataQueries ?? []).map((q) => ({ Id: q.Id, Values: [1] })) }));
    const a = await new FakeBackend('a').start();
    const { server, url } = await startRouter(
      { cloudwatch: { namespace: 'test/router', interval: '1h' }, backends: [{ id: 'a', url: a.url, type: 'g4dn.xlarge' }] },
      { policy: new FirstAvailable(), cloudwatchClient: new CloudWatchClient({ region: 'us-east-1' }) },
    );
    try {
      await request(url).post('/v2/models/rm2/infer').send(inferBody(1));
    } finally {
      await server.close();
      await a.stop();
    }
    const key = (m: { MetricName?: string | undefined; Dimensions?: Array<{ Name?: string | undefined; Value?: string | undefined }> | undefined }): string =>
      `${m.MetricName}|${JSON.stringify(m.Dimensions)}`;
    const published = new Set(cw.commandCalls(PutMetricDataCommand)[0]!.args[0].input.MetricData!.map(key));
    const source = new CloudWatchMetricsSource({
      client: new CloudWatchClient({ region: 'us-east-1' }),
      namespace: 'test/router',
      classes: [{ name: 'interactive', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 }],
      windowMs: 60_000,
      sizes: { sizes: Float64Array.of(100), weights: Float64Array.of(1) },
    });
    await source.observe(3_600_000);
    const queried = cw.commandCalls(GetMetricDataCommand)[0]!.args[0].input.MetricDataQueries!.map((q) => key(q.MetricStat!.Metric!));
    assert.ok(queried.length > 0);
    for (const q of queried) assert.ok(published.has(q), `the controller queries ${q}, which the router never publishes`);
  });
});
