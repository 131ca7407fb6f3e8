import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceError } from '../../src/core/errors.ts';
import { newTraceStats, poissonArrivals, readTrace, readTraceChunks, type TraceArrival, type TraceOptions } from '../../sim/workload.ts';

function traceFile(text: string, name = 'trace.csv'): string {
  const p = join(mkdtempSync(join(tmpdir(), 'mixscale-trace-')), name);
  writeFileSync(p, text);
  return p;
}

async function all(opts: TraceOptions): Promise<TraceArrival[]> {
  const out: TraceArrival[] = [];
  for await (const a of readTrace(opts)) out.push(a);
  return out;
}

async function rejects(opts: TraceOptions, pattern: RegExp): Promise<TraceError> {
  let caught: unknown;
  try {
    await all(opts);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TraceError, `expected a TraceError, got ${String(caught)}`);
  assert.equal(caught.code, 'MIXSCALE_TRACE_INVALID');
  assert.match(caught.message, pattern);
  return caught;
}

describe('trace reader', () => {
  it('names a UTF-16 trace as not UTF-8, not as a header of garbage', async () => {
    for (const bom of [true, false]) {
      const p = join(mkdtempSync(join(tmpdir(), 'mixscale-trace-')), 'utf16.csv');
      writeFileSync(p, Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from('t_ms,size\n0,5\n', 'utf16le')]));
      await rejects({ path: p }, new RegExp(`^${p}:1: not UTF-8 text \\(UTF-16\\?\\): save it as UTF-8$`));
    }
  });

  it('refuses a replay that would not end: a rate above a million per second, or a time scale that stretches a row past a year', async () => {
    const rate = traceFile('t_s,rps\n0,1e15\n10,1\n');
    await rejects({ path: rate }, new RegExp(`^${rate}:2: this row replays at 1\\.0e\\+15 requests per second \\(after the time scale\\); at most 1,000,000$`));
    const p = traceFile('t_ms,size\n0,5\n86400000,5\n');
    await rejects({ path: p, timeScale: 1e-9 }, new RegExp(`^${p}:3: t_ms 86400000 at time scale 1e-9 is 1\\.0e\\+9 days into the replay \\(at most 366 days\\): a larger time scale, or a shorter window$`));
    assert.equal((await all({ path: p, timeScale: 0.5 })).length, 2, 'a day at half speed is two days: fine');
    // Counts past a billion are written as powers of ten, not hundreds of digits.
    const far = traceFile('t_ms,size\n0,1\n1e300,1\n');
    await rejects({ path: far }, /:3: t_ms 1e300 is 1\.2e\+292 days into the trace;/);
  });

  it('reads a per-request trace with its size column, in order', async () => {
    const p = traceFile('t_ms,input_tokens,output_tokens\n0,100,5\n10,200,7\n10,300,9\n25,50,1\n');
    const got = await all({ path: p });
    assert.deepEqual(got, [
      { tMs: 0, size: 100, line: 2 },
      { tMs: 10, size: 200, line: 3 },
      { tMs: 10, size: 300, line: 4 },
      { tMs: 25, size: 50, line: 5 },
    ]);
  });

  it('uses the size column it is told to, scaled by sizeScale', async () => {
    const p = traceFile('t_ms,input_tokens,output_tokens\n0,100,5\n10,200,7\n');
    const got = await all({ path: p, sizeColumn: 'output_tokens', sizeScale: 10 });
    assert.deepEqual(got.map((a) => a.size), [50, 70]);
  });

  it('fills missing sizes from the size distribution', async () => {
    const p = traceFile('t_ms\n0\n5\n9\n');
    const got = await all({ path: p, sizes: { kind: 'fixed', size: 42 } });
    assert.deepEqual(got.map((a) => a.size), [42, 42, 42]);
    const unsized = await all({ path: p });
    assert.deepEqual(unsized.map((a) => a.size), [undefined, undefined, undefined]);
  });

  it('fails on an empty file, naming it', async () => {
    const p = traceFile('');
    const e = await rejects({ path: p }, /empty trace/);
    assert.match(e.message, /trace\.csv/);
  });

  it('fails when the header is missing, naming line 1', async () => {
    await rejects({ path: traceFile('0,100\n5,200\n') }, /trace\.csv:1: missing header/);
  });

  it('fails on an unknown header', async () => {
    await rejects({ path: traceFile('time,size\n0,1\n') }, /unrecognized header/);
  });

  it('fails on a header that is both a request trace and a rate series', async () => {
    await rejects({ path: traceFile('t_ms,t_s,rps\n0,0,5\n') }, /trace\.csv:1: both "t_ms" .* and "t_s"/);
  });

  it('refuses a size column asked of a rate series (it has none), as a setting the CLI names', async () => {
    const p = traceFile('t_s,rps\n0,5\n10,5\n', 'rates.csv');
    const e = await rejects({ path: p, sizeColumn: 'tokens' }, /rates\.csv:1: size column "tokens": rates\.csv is a rate series \(t_s\), which has no size column/);
    assert.equal(e.details.setting, 'sizeColumn');
  });

  it('fails on a fractional count in a rate series, with the file and line', async () => {
    await rejects({ path: traceFile('t_s,count\n0,10\n1,2.5\n') }, /trace\.csv:3: count "2\.5" is not a whole number/);
  });

  it('fails on a bad number with the file and line', async () => {
    await rejects({ path: traceFile('t_ms,size\n0,10\n5,abc\n') }, /trace\.csv:3: size "abc"/);
    await rejects({ path: traceFile('t_ms,size\n0,10\nx,5\n') }, /trace\.csv:3: t_ms "x"/);
    await rejects({ path: traceFile('t_ms,size\n0,10\n4\n') }, /trace\.csv:3: expected 2 fields/);
  });

  it('fails on timestamps that go back, with the file and line', async () => {
    await rejects({ path: traceFile('t_ms\n0\n50\n40\n') }, /trace\.csv:4: timestamps must not decrease/);
  });

  it('skips and counts bad rows when asked', async () => {
    const stats = newTraceStats();
    const got = await all({ path: traceFile('t_ms,size\n0,10\n5,abc\n7,1\n3,4\n9,8\n'), skipBadRows: true, stats });
    assert.deepEqual(got.map((a) => a.tMs), [0, 7, 9]);
    assert.equal(stats.skippedRows, 2);
    assert.match(stats.skipped[0]!, /:3: size "abc"/);
  });

  it('reports a missing file as a trace error', async () => {
    await rejects({ path: join(tmpdir(), 'mixscale-no-such-trace.csv') }, /no such file/);
  });

  it('reports a folder given as the trace in one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-trace-dir-'));
    const e = await rejects({ path: dir }, /is a directory/);
    assert.equal(e.message, `cannot read trace ${dir}: is a directory`);
  });

  it('yields nothing, with peakRps as without, for a window with no arrivals (the caller names what cut it)', async () => {
    const requests = traceFile('t_ms\n0\n1000\n90000\n');
    assert.deepEqual(await all({ path: requests, startMs: 2000, durationMs: 30_000, peakRps: 10 }), []);
    assert.deepEqual(await all({ path: requests, startMs: 2000, durationMs: 30_000 }), []);
    const rates = traceFile('t_s,rps\n0,5\n10,0\n20,5\n');
    assert.deepEqual(await all({ path: rates, startMs: 10_000, durationMs: 10_000, peakRps: 10 }), []);
  });

  it('fails when the window starts past the end of the trace, and not on a window that is merely empty', async () => {
    const requests = traceFile('t_ms\n0\n1000\n2000\n');
    const e = await rejects({ path: requests, startMs: 3_600_000 }, /no arrivals in the chosen window: it starts at 1h, past the end of trace\.csv \(2s\)$/);
    assert.equal(e.details.setting, 'start');
    // A rate series ends where its last bin does.
    const rates = traceFile('t_s,rps\n0,5\n10,5\n');
    await rejects({ path: rates, startMs: 20_000 }, /starts at 20s, past the end of trace\.csv \(20s\)$/);
    assert.ok((await all({ path: rates, startMs: 15_000, seed: 1 })).length > 0, 'a start inside the last bin replays it');
    // A gap inside the trace is not a mistake.
    assert.deepEqual(await all({ path: requests, startMs: 1500, durationMs: 100 }), []);
  });

  it('counts the rows inside the window only, for rate series as for requests', async () => {
    const rates = traceFile('t_s,rps\n0,5\n10,5\n20,5\n30,5\n40,5\n');
    const stats = newTraceStats();
    await all({ path: rates, startMs: 25_000, durationMs: 10_000, seed: 1, stats });
    assert.equal(stats.rows, 2, 'the bins at 20 s and 30 s');
    const requests = newTraceStats();
    await all({ path: traceFile('t_ms\n0\n1000\n2000\n3000\n'), startMs: 1000, durationMs: 1500, stats: requests });
    assert.equal(requests.rows, 2);
  });

  it('cuts a window and scales time', async () => {
    const p = traceFile('t_ms\n0\n1000\n2000\n3000\n4000\n');
    const got = await all({ path: p, startMs: 1000, durationMs: 2500, timeScale: 2 });
    assert.deepEqual(got.map((a) => a.tMs), [0, 500, 1000]);
  });

  it('expands a rate series into Poisson arrivals at the binned rate', async () => {
    const p = traceFile('t_s,rps\n0,10\n100,50\n200,0\n');
    const got = await all({ path: p, seed: 7 });
    const first = got.filter((a) => a.tMs < 100_000).length;
    const second = got.filter((a) => a.tMs >= 100_000 && a.tMs < 200_000).length;
    const third = got.filter((a) => a.tMs >= 200_000).length;
    // Poisson counts: mean 1000 and 5000, sd about 32 and 71.
    assert.ok(Math.abs(first - 1000) < 150, `first bin ${first}`);
    assert.ok(Math.abs(second - 5000) < 350, `second bin ${second}`);
    assert.equal(third, 0);
    for (let i = 1; i < got.length; i++) assert.ok(got[i]!.tMs >= got[i - 1]!.tMs);
  });

  it('reads count columns as requests per bin', async () => {
    const got = await all({ path: traceFile('t_s,count\n0,600\n60,600\n'), seed: 3 });
    assert.ok(Math.abs(got.length - 1200) < 150, `${got.length} arrivals`);
  });

  it('asks which model when a rate series has several, and replays the chosen one', async () => {
    const text = 't_s,model,rps\n0,a,1\n0,b,100\n10,a,1\n10,b,100\n';
    await rejects({ path: traceFile(text) }, /several models.*sim\.trace\.model/);
    const got = await all({ path: traceFile(text), model: 'a', seed: 1 });
    assert.ok(got.length < 60, `${got.length} arrivals for model a`);
  });

  it('names the models a trace has when the chosen one is not among them, or says it has no model column', async () => {
    const rates = traceFile('t_s,model,rps\n0,wnd,1\n0,rm2,2\n10,wnd,1\n10,rm2,2\n', 'rate_model.csv');
    const e = await rejects({ path: rates, model: 'nope' }, /model "nope" is not in rate_model\.csv \(models: rm2, wnd\)$/);
    assert.deepEqual([e.details.setting, e.details.detail], ['model', '"nope" is not in rate_model.csv (models: rm2, wnd)']);
    await rejects({ path: traceFile('t_ms\n0\n5\n', 'plain.csv'), model: 'rm2' }, /model "rm2" is not in plain\.csv \(it has no model column\)$/);
    assert.ok((await all({ path: rates, model: 'wnd', seed: 1 })).length > 0);
  });

  it('rescales so the busiest minute averages peakRps', async () => {
    const p = traceFile('t_s,rps\n0,5\n60,20\n120,10\n');
    const stats = newTraceStats();
    const got = await all({ path: p, peakRps: 40, seed: 5, stats });
    assert.ok(Math.abs(stats.rateFactor - 2) < 1e-9);
    const busiest = got.filter((a) => a.tMs >= 60_000 && a.tMs < 120_000).length / 60;
    assert.ok(Math.abs(busiest - 40) < 4, `busiest minute ${busiest} rps`);
  });

  it('replicates per-request rows for peakRps above the trace, keeping time order', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => `${i * 1000}`).join('\n');
    const got = await all({ path: traceFile(`t_ms\n${rows}\n`), peakRps: 3, seed: 2 });
    assert.ok(Math.abs(got.length - 360) < 10, `${got.length} arrivals`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i]!.tMs >= got[i - 1]!.tMs);
  });

  it("spreads the last row's replicas over the gap before it, inside the window, not all at one instant", async () => {
    const p = traceFile('t_ms\n0\n1000\n2000\n');
    const got = await all({ path: p, peakRps: 15, seed: 3 });
    assert.equal(got.length, 30);
    const last = got.filter((a) => a.line === 4).map((a) => a.tMs);
    assert.equal(last.length, 10);
    assert.equal(last[0], 2000);
    assert.equal(new Set(last).size, 10, `replicas at ${last.join(', ')}`);
    assert.ok(last.every((t) => t >= 2000 && t < 3000), last.join(', '));
    for (let i = 1; i < got.length; i++) assert.ok(got[i]!.tMs >= got[i - 1]!.tMs);
    // A window's last row spreads up to the window's end at most.
    const cut = await all({ path: traceFile('t_ms\n0\n1000\n2000\n3000\n'), durationMs: 2500, peakRps: 15, seed: 3 });
    const tail = cut.filter((a) => a.line === 4).map((a) => a.tMs);
    assert.ok(tail.length > 1 && new Set(tail).size === tail.length && tail.every((t) => t >= 2000 && t < 2500), tail.join(', '));
  });

  it('refuses a peakRps that would repeat each request more than 10,000 times, as a setting the CLI names', async () => {
    const e = await rejects({ path: traceFile('t_ms\n0\n100\n200\n'), peakRps: 1e10 }, /peakRps 10000000000 rps would send each request of .* about 666,666,667 times \(its busiest minute is 15 rps\); at most 10,000× its peak/);
    assert.equal(e.details['setting'], 'peakRps');
  });

  it('refuses absolute times (epoch ms) and numbers not written in decimal, naming the line', async () => {
    await rejects({ path: traceFile('t_ms\n1700000000000\n1700000000100\n') }, /:2: t_ms 1700000000000 is 19,676 days into the trace; times count from the trace's start \(at most 366 days\): rebase them to the first row/);
    await rejects({ path: traceFile('t_ms\n0x10\n20\n') }, /:2: t_ms "0x10" is not a non-negative number/);
    await rejects({ path: traceFile('t_s,rps\n0,0x1e\n') }, /:2: rps "0x1e" is not a non-negative number/);
  });

  it('gives the same arrivals for the same seed', async () => {
    const p = traceFile('t_s,rps\n0,30\n30,60\n');
    const a = await all({ path: p, seed: 11, sizes: { kind: 'kairos' } });
    const b = await all({ path: p, seed: 11, sizes: { kind: 'kairos' } });
    assert.deepEqual(a, b);
  });

  it('streams in chunks without reading the file whole', async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => `${i}`).join('\n');
    let chunks = 0;
    let n = 0;
    for await (const c of readTraceChunks({ path: traceFile(`t_ms\n${rows}\n`) })) {
      chunks++;
      n += c.length;
    }
    assert.equal(n, 10_000);
    assert.ok(chunks >= 3);
  });

  it('generates a constant Poisson stream for what-if runs', async () => {
    let n = 0;
    for await (const c of poissonArrivals({ rps: 100, durationMs: 60_000, sizes: { kind: 'fixed', size: 10 }, seed: 1 })) n += c.length;
    assert.ok(Math.abs(n - 6000) < 300, `${n} arrivals`);
  });
});
