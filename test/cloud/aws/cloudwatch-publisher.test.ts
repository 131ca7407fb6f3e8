import assert from 'node:assert/strict';
import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand, type GetMetricDataCommandInput, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { CloudWatchMetricsSource } from '../../../src/cloud/aws/cloudwatch-metrics.ts';
import { latencyValuesCounts, publishObservation } from '../../../src/cloud/aws/cloudwatch-publisher.ts';
import { LatencyHistogram } from '../../../src/core/histogram.ts';
import { Rng } from '../../../src/core/rng.ts';

/** A minimal CloudWatch: keeps what was put, answers Sum and pNN from the stored values. */
function fakeCloudWatch(client: CloudWatchClient) {
  const mock = mockClient(client);
  const stored = new Map<string, { values: number[]; counts: number[] }>();
  const key = (name: string, cls: string) => `${name}/${cls}`;
  mock.on(PutMetricDataCommand).callsFake((input: PutMetricDataCommandInput) => {
    for (const d of input.MetricData ?? []) {
      const cls = d.Dimensions?.[0]?.Value ?? '';
      const e = stored.get(key(d.MetricName!, cls)) ?? { values: [], counts: [] };
      if (d.Value !== undefined) {
        e.values.push(d.Value);
        e.counts.push(1);
      }
      for (let i = 0; i < (d.Values ?? []).length; i++) {
        e.values.push(d.Values![i]!);
        e.counts.push(d.Counts?.[i] ?? 1);
      }
      stored.set(key(d.MetricName!, cls), e);
    }
    return {};
  });
  mock.on(GetMetricDataCommand).callsFake((input: GetMetricDataCommandInput) => ({
    MetricDataResults: (input.MetricDataQueries ?? []).map((q) => {
      const m = q.MetricStat!;
      const e = stored.get(key(m.Metric!.MetricName!, m.Metric!.Dimensions![0]!.Value!));
      if (e === undefined) return { Id: q.Id, Values: [] };
      if (m.Stat === 'Sum') return { Id: q.Id, Values: [e.values.reduce((s, v, i) => s + v * e.counts[i]!, 0)] };
      const p = Number(m.Stat!.slice(1)) / 100;
      const pairs = e.values.map((v, i) => [v, e.counts[i]!] as const).sort((a, b) => a[0] - b[0]);
      const total = pairs.reduce((s, [, c]) => s + c, 0);
      let acc = 0;
      for (const [v, c] of pairs) {
        acc += c;
        if (acc >= p * total) return { Id: q.Id, Values: [v] };
      }
      return { Id: q.Id, Values: [pairs.at(-1)![0]] };
    }),
  }));
  return mock;
}

describe('publishObservation', () => {
  it('turns a histogram into at most 100 CloudWatch values that keep its percentiles', () => {
    const h = new LatencyHistogram();
    const rng = new Rng(3);
    for (let i = 0; i < 20_000; i++) h.record(rng.lognormal(4.5, 0.5));
    const { values, counts } = latencyValuesCounts(h);
    assert.ok(values.length <= 100 && values.length > 10);
    assert.ok(Math.abs(counts.reduce((a, b) => a + b, 0) - 20_000) < 1e-6);
  });

  it('publishes what CloudWatchMetricsSource reads back: rate and tail latency per class', async () => {
    const client = new CloudWatchClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const mock = fakeCloudWatch(client);
    const h = new LatencyHistogram();
    const rng = new Rng(7);
    for (let i = 0; i < 3000; i++) h.record(rng.lognormal(4.5, 0.5));
    const atMs = Date.parse('2026-01-01T12:00:00Z');
    await publishObservation(client, 'mixscale/router', { atMs, windowMs: 60_000, classes: [{ name: 'rm2', rps: 50, sizes: { sizes: Float64Array.of(1), weights: Float64Array.of(1) }, latency: h }] });
    const src = new CloudWatchMetricsSource({ client, namespace: 'mixscale/router', classes: [{ name: 'rm2', model: 'rm2', sloMs: 350, sloQuantile: 0.99, share: 1 }], windowMs: 60_000, sizes: { sizes: Float64Array.of(1), weights: Float64Array.of(1) } });
    const obs = await src.observe(atMs + 60_000);
    const c = obs.load.classes[0]!;
    assert.equal(c.rps, 50);
    const want = h.quantile(0.99);
    assert.ok(Math.abs(c.latency!.quantile(0.99) - want) / want < 0.1, `p99 ${c.latency!.quantile(0.99)} vs ${want}`);
    mock.restore();
  });
});
