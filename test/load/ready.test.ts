import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isMixscaleError } from '../../src/core/errors.ts';
import { readyUrl, waitReady } from '../../src/load/ready.ts';
import { inferUrl } from '../../src/load/replay.ts';

/** A server whose readiness answers 503 `notReadyFor` times, then 200; counts the asks. */
async function readiness(notReadyFor: number): Promise<{ server: Server; url: URL; asked: () => number }> {
  let asked = 0;
  const server = createServer((req, res) => {
    asked++;
    res.writeHead(req.url === '/v2/models/rm2/ready' && asked > notReadyFor ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: new URL(`http://127.0.0.1:${port}/v2/models/rm2/ready`), asked: () => asked };
}

describe('load --wait-ready', () => {
  it("asks the infer URL's model for readiness, versions and path prefixes kept", () => {
    assert.equal(readyUrl(inferUrl('http://127.0.0.1:8080', 'rm2')).href, 'http://127.0.0.1:8080/v2/models/rm2/ready');
    assert.equal(readyUrl(inferUrl('http://gw/prefix/v2/models/m/versions/3/infer', 'rm2')).href, 'http://gw/prefix/v2/models/m/versions/3/ready');
  });

  it('returns once the model answers 200, asking again after each 503', async () => {
    const r = await readiness(3);
    try {
      await waitReady(r.url, 10_000, undefined, 20);
      assert.equal(r.asked(), 4);
    } finally {
      r.server.close();
    }
  });

  it('fails after the timeout naming the URL and its last answer', async () => {
    const r = await readiness(Infinity);
    try {
      // 2 s: time for a first answer on a loaded machine; an ask the deadline cuts short does not hide it.
      await assert.rejects(waitReady(r.url, 2_000, undefined, 20), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_BACKEND_UNAVAILABLE' && /^load: http:\/\/127\.0\.0\.1:\d+\/v2\/models\/rm2\/ready was not ready within 2s \(--wait-ready; last: HTTP 503\)$/.test(e.message));
      assert.ok(r.asked() >= 1, `asked ${r.asked()} times`);
    } finally {
      r.server.close();
    }
  });

  it('names the last answer when an ask the deadline cuts short gets none (a target that answered 503, then hangs)', async () => {
    let asked = 0;
    const server = createServer((_req, res) => {
      if (asked++ === 0) res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await assert.rejects(waitReady(new URL(`http://127.0.0.1:${port}/v2/models/rm2/ready`), 300, undefined, 20), (e: unknown) => isMixscaleError(e) && /\(--wait-ready; last: HTTP 503\)$/.test(e.message));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('leaves no listener on the interrupt signal, however many times it asks (a 2m wait asks 240 times)', async () => {
    const r = await readiness(30);
    const stop = new AbortController();
    try {
      await waitReady(r.url, 10_000, stop.signal, 1);
      assert.equal(r.asked(), 31);
      assert.equal(getEventListeners(stop.signal, 'abort').length, 0);
    } finally {
      r.server.close();
    }
  });

  it('stops waiting when interrupted', async () => {
    const r = await readiness(Infinity);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    try {
      await assert.rejects(waitReady(r.url, 60_000, stop.signal, 20), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_INTERRUPTED');
    } finally {
      r.server.close();
    }
  });

  it('stops at once when interrupted while an ask hangs (a target that accepts and never answers)', async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const stop = new AbortController();
    const t0 = Date.now();
    setTimeout(() => stop.abort(), 100);
    try {
      await assert.rejects(waitReady(new URL(`http://127.0.0.1:${port}/v2/models/rm2/ready`), 60_000, stop.signal), (e: unknown) => isMixscaleError(e) && e.code === 'MIXSCALE_INTERRUPTED');
      // The ask itself waits up to 5 s for an answer: an interrupt must not wait that out.
      assert.ok(Date.now() - t0 < 2_000, `stopped after ${Date.now() - t0} ms`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
