import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/rng.ts';
import { parseClassMix, pickClass } from '../../src/load/classes.ts';
import { PayloadBuilder, parseParam } from '../../src/load/payload.ts';

describe('load payloads and classes', () => {
  it('a size payload carries a [size,1] tensor and parameters.size', () => {
    const body = JSON.parse(new PayloadBuilder({ kind: 'size', parameters: { priority: true } }).body(30, 'interactive')) as {
      inputs: Array<{ shape: number[]; data: number[] }>;
      parameters: Record<string, unknown>;
    };
    assert.deepEqual(body.inputs[0]!.shape, [30, 1]);
    assert.equal(body.inputs[0]!.data.length, 30);
    assert.deepEqual(body.parameters, { priority: true, size: 30, class: 'interactive' });
  });

  it('a digits payload carries real test digits, and their labels can be looked up by the request id', () => {
    const p = new PayloadBuilder({ kind: 'digits', parameters: { latency_ms: 8 } });
    const first = JSON.parse(p.body(2, undefined)) as { id: string; inputs: Array<{ shape: number[]; data: number[] }>; parameters: Record<string, unknown> };
    assert.equal(first.id, 'd0x2');
    assert.deepEqual(first.inputs[0]!.shape, [2, 64]);
    assert.ok(first.inputs[0]!.data.every((v) => Number.isInteger(v) && v >= 0 && v <= 16));
    assert.deepEqual(first.parameters, { latency_ms: 8 });
    const second = JSON.parse(p.body(1, undefined)) as { id: string };
    assert.equal(second.id, 'd2x1');
    const csv = readFileSync(fileURLToPath(new URL('../../models/digits-cnn/digits-test.csv', import.meta.url)), 'utf8').split('\n');
    assert.deepEqual(p.truth('d0x2'), [Number(csv[1]!.split(',')[0]), Number(csv[2]!.split(',')[0])]);
    assert.deepEqual(first.inputs[0]!.data.slice(0, 64), csv[1]!.split(',').slice(1).map(Number));
  });

  it('reads --param values as numbers, booleans or strings', () => {
    assert.deepEqual(parseParam('latency_ms=8.5'), ['latency_ms', 8.5]);
    assert.deepEqual(parseParam('priority=true'), ['priority', true]);
    assert.deepEqual(parseParam('class=batch'), ['class', 'batch']);
    assert.throws(() => parseParam('latency_ms'), /--param: "latency_ms" is not key=value/);
  });

  it('splits requests among classes by share, reproducibly for a seed', () => {
    const mix = parseClassMix('interactive:1,batch:3');
    const draw = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 4000 }, () => pickClass(mix, rng));
    };
    const a = draw(9);
    assert.deepEqual(a, draw(9));
    const share = a.filter((c) => c === 'interactive').length / a.length;
    assert.ok(Math.abs(share - 0.25) < 0.03, `interactive share ${share}`);
  });

  it('rejects a class mix it cannot read, naming the part', () => {
    assert.throws(() => parseClassMix('interactive:0'), /--classes: "interactive:0"/);
    assert.throws(() => parseClassMix('a b:1'), /--classes: "a b:1"/);
    assert.throws(() => parseClassMix(''), /--classes: expected name:share/);
  });

  it('rejects the class name "all", which the report uses for the total (its requests vanished under it)', () => {
    assert.throws(() => parseClassMix('all:0.5,b:0.5'), /^MixscaleError: --classes: "all" names the total over every class/);
  });

  it('rejects a class given twice instead of merging it', () => {
    assert.throws(() => parseClassMix('a:1,b:1,a:2'), /^MixscaleError: --classes: class "a" is given twice/);
  });
});
