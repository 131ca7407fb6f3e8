import assert from 'node:assert/strict';
import { fixed, formatUsd, roundedFloats } from '../../src/core/units.ts';

describe('JSON rounding', () => {
  it('rounds every float of a JSON document to 6 significant digits and 6 decimals, keeping whole parts, and leaves the rest as is', () => {
    const doc = { usdPerHour: 3.9010000000000002, predictedP99Ms: { rm2: 5.820766091346741e-11, c: 347.12345678 }, attainment: 0.9964181163328271, small: 0.0123456789 };
    const more = { atMs: 1795737778593.32, seq: 3, mix: { 'r5n.large': 2 }, dryRun: true, none: null, inf: -Infinity };
    assert.equal(
      JSON.stringify({ ...doc, ...more }, roundedFloats),
      '{"usdPerHour":3.901,"predictedP99Ms":{"rm2":0,"c":347.123},"attainment":0.996418,"small":0.012346,"atMs":1795737778593,"seq":3,"mix":{"r5n.large":2},"dryRun":true,"none":null,"inf":null}',
    );
  });
});

describe('money to the cent', () => {
  it('reads one sum the same whatever order its terms were added in', () => {
    // One c5n.2xlarge and seven r5n.large, summed instance by instance in two orders.
    const sum = (prices: number[]): number => prices.reduce((x, p) => x + p, 0);
    const a = sum([0.432, ...Array<number>(7).fill(0.149)]);
    const b = sum([...Array<number>(7).fill(0.149), 0.432]);
    assert.notEqual(a.toFixed(2), b.toFixed(2), 'the float noise this guards against');
    assert.equal(fixed(a, 2), '1.48');
    assert.equal(fixed(b, 2), '1.48');
    assert.equal(formatUsd(a), '$1.48');
    assert.equal(fixed(2.675, 2), '2.68');
    assert.equal(fixed(0.149, 3), '0.149');
    assert.equal(fixed(-0.001, 2), '0.00');
  });

  it('rounds a half up even where scaling it to cents adds float noise', () => {
    // 1.005 × 100 is 100.49999999999999 in floats: rounded as it stands, $1.005 read $1.00.
    assert.equal(fixed(1.005, 2), '1.01');
    assert.equal(fixed(1.015, 2), '1.02');
    assert.equal(fixed(0.145, 2), '0.15');
    assert.equal(formatUsd(0.0005), '$0.001');
    assert.equal(formatUsd(1.005), '$1.01');
    assert.equal(fixed(1.0049, 2), '1.00');
  });
});
