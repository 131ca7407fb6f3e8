import assert from 'node:assert/strict';
import request from 'supertest';
import type { RouterServer } from '../../src/routing/server.ts';
import { ADMIN_TOKEN, startRouter } from './harness.ts';

const AUTH = `Bearer ${ADMIN_TOKEN}`;

describe('router paths', () => {
  describe('a path that is not valid percent-encoding', () => {
    let router: RouterServer;
    let url: string;

    afterEach(async () => {
      await router.close();
    });

    for (const hotPath of ['lean', 'express'] as const) {
      it(`names the path parameter at fault (--hot-path ${hotPath})`, async () => {
        ({ server: router, url } = await startRouter({}, { hotPath }));
        const cases: Array<['get' | 'post' | 'delete', string, RegExp]> = [
          ['get', '/v2/models/%E0%A4%A', /^model: the name in the path is not valid percent-encoding/],
          ['get', '/v2/models/%ZZ/ready', /^model: the name in the path is not valid percent-encoding/],
          ['get', '/v2/models/rm2/versions/%ZZ/ready', /^version: the version in the path is not valid percent-encoding/],
          ['post', '/v2/models/%ZZ/infer', /^model: the name in the path is not valid percent-encoding/],
          ['get', '/v1/backends/%ZZ', /^id: the backend id in the path is not valid percent-encoding/],
          ['delete', '/v1/backends/%ZZ', /^id: the backend id in the path is not valid percent-encoding/],
          ['post', '/v1/backends/%ZZ/drain', /^id: the backend id in the path is not valid percent-encoding/],
        ];
        for (const [method, path, error] of cases) {
          const res = await request(url)[method](path).set('authorization', AUTH);
          assert.equal(res.status, 400, `${method} ${path}`);
          assert.match(res.body.error, error, `${method} ${path}`);
        }
        // A body that is not JSON is still called that.
        const bad = await request(url).post('/v1/backends').set('authorization', AUTH).set('content-type', 'application/json').send('{"url":');
        assert.equal(bad.status, 400);
        assert.match(bad.body.error, /^body: malformed JSON/);
      });
    }
  });
});
