import assert from 'node:assert/strict';
import { badPathEncoding } from '../../src/core/http-path.ts';

describe('badPathEncoding', () => {
  it('names the path parameter that is not valid percent-encoding', () => {
    assert.equal(badPathEncoding('/v2/models/%ZZ/infer'), 'model: the name in the path is not valid percent-encoding');
    assert.equal(badPathEncoding('/v2/models/rm2/versions/%ZZ/infer'), 'version: the version in the path is not valid percent-encoding');
    assert.equal(badPathEncoding('/v1/backends/%E0%A4%A/drain'), 'id: the backend id in the path is not valid percent-encoding');
    assert.equal(badPathEncoding('/metrics%ZZ'), 'path: not valid percent-encoding');
  });
});
