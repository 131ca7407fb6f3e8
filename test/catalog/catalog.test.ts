import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.ts';
import { MixscaleError } from '../../src/core/errors.ts';

describe('Catalog (bundled EC2 us-east-1)', () => {
  const catalog = Catalog.load();

  it("has Kairos' four types at the prices Kairos used", () => {
    assert.equal(catalog.price('g4dn.xlarge'), 0.526);
    assert.equal(catalog.price('r5n.large'), 0.149);
    assert.equal(catalog.price('c5n.2xlarge'), 0.432);
    assert.equal(catalog.price('t3.xlarge'), 0.1664);
  });

  it('knows specs: vCPU, GPU, and which types are accelerated', () => {
    const g = catalog.get('g4dn.xlarge');
    assert.equal(g.vcpu, 4);
    assert.equal(g.gpu?.name, 't4');
    assert.ok(catalog.isAccelerated('g4dn.xlarge'));
    assert.ok(catalog.isAccelerated('inf2.xlarge'));
    assert.ok(!catalog.isAccelerated('r5n.large'));
    assert.ok(catalog.all().length > 1000);
  });

  it('rejects an unknown type with a stable code and suggestions', () => {
    assert.throws(
      () => catalog.get('g4dn.xlrge'),
      (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_CATALOG_UNKNOWN_TYPE' && /did you mean "g4dn\.xlarge"/.test(e.message),
    );
  });

  it('applies price overrides without touching the original', () => {
    const c2 = catalog.withPrices({ 'g4dn.xlarge': 0.4 });
    assert.equal(c2.price('g4dn.xlarge'), 0.4);
    assert.equal(catalog.price('g4dn.xlarge'), 0.526);
  });
});
