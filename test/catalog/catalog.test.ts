import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('names a type longer than any type name by its start and length, without suggestions (they took seconds for 100 kB)', () => {
    const name = `g4dn.${'x'.repeat(100_000)}`;
    assert.throws(
      () => catalog.get(name),
      (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_CATALOG_UNKNOWN_TYPE' && e.message === `unknown instance type "${name.slice(0, 64)}…" (100005 characters)`,
    );
  });

  it('applies price overrides without touching the original', () => {
    const c2 = catalog.withPrices({ 'g4dn.xlarge': 0.4 });
    assert.equal(c2.price('g4dn.xlarge'), 0.4);
    assert.equal(catalog.price('g4dn.xlarge'), 0.526);
  });

  it('validates a catalog file on load, naming the file, the entry and the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mixscale-catalog-'));
    const invalid = (entries: unknown, pattern: RegExp): void => {
      const p = join(dir, 'c.json');
      writeFileSync(p, JSON.stringify(entries));
      assert.throws(() => Catalog.load(p), (e: unknown) => e instanceof MixscaleError && e.code === 'MIXSCALE_CATALOG_INVALID' && e.userFault && pattern.test(e.message) && e.message.startsWith(`catalog ${p}: `));
    };
    const good = { type: 'x1.big', vcpu: 4, memoryGiB: 16, gpu: null, accelerator: null, arch: 'x86_64', onDemandUsdPerHour: 0.5 };
    invalid([null], /entry \[0\]: /);
    invalid([good, { type: 'c5n.2xlarge', onDemandUsdPerHour: 0.432 }], /entry \[1\] \(c5n\.2xlarge\): vcpu: missing/);
    const { gpu: _gpu, ...noGpu } = good;
    invalid([noGpu], /entry \[0\] \(x1\.big\): gpu: missing/);
    invalid([{ ...good, accelerator: { count: 1 } }], /entry \[0\] \(x1\.big\): accelerator\.name: /);
    invalid([{ ...good, onDemandUsdPerHour: 0 }], /onDemandUsdPerHour: /);
    invalid([good, { ...good, onDemandUsdPerHour: 0.01 }], /entry \[1\] \(x1\.big\): the type is listed already, at entry \[0\]; list each type once/);
    const p = join(dir, 'ok.json');
    // A byte-order mark, as some editors write, is read past.
    writeFileSync(p, `\uFEFF${JSON.stringify([good])}`);
    assert.equal(Catalog.load(p).isAccelerated('x1.big'), false);
  });
});
