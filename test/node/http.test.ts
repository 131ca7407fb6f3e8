import assert from 'node:assert/strict';
import { request } from 'node:http';
import { RealClock } from '../../src/core/clock.ts';
import { silentLogger } from '../../src/core/log.ts';
import { createNodeApp, listen, type InferenceNode } from '../../src/node/http.ts';
import type { OipInferResponse } from '../../src/node/oip.ts';

describe('node HTTP front', () => {
  it('aborts the signal it gives the node when the client hangs up before the answer, and keeps serving', async function () {
    this.timeout(10_000); // fails (never aborted) rather than hangs
    const calls: Array<{ signal: AbortSignal; finish: (r: OipInferResponse) => void }> = [];
    let called = (): void => {};
    const node: InferenceNode = {
      modelName: 'm',
      requireInputs: false,
      metadata: () => ({}),
      infer: (_req, _arrival, signal) =>
        new Promise((finish) => {
          calls.push({ signal: signal!, finish });
          called();
        }),
    };
    const nextCall = (): Promise<void> => new Promise((r) => (called = r));
    const server = await listen(createNodeApp(node, { clock: new RealClock(), logger: silentLogger }), '127.0.0.1', 0);
    try {
      const first = nextCall();
      const req = request(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      req.on('error', () => {}); // the hang-up below
      req.end('{"parameters":{"size":1}}');
      await first;
      assert.equal(calls[0]!.signal.aborted, false);
      const aborted = new Promise<void>((r) => calls[0]!.signal.addEventListener('abort', () => r()));
      req.destroy();
      await aborted;
      calls[0]!.finish({ model_name: 'm', outputs: [] }); // an answer nobody waits for is dropped

      const second = nextCall();
      const ok = fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"parameters":{"size":1}}' });
      await second;
      calls[1]!.finish({ model_name: 'm', outputs: [] });
      assert.equal((await ok).status, 200);
      assert.equal(calls[1]!.signal.aborted, false, 'an answered request is not aborted');
    } finally {
      for (const c of calls) c.finish({ model_name: 'm', outputs: [] });
      await server.close();
    }
  });
});
