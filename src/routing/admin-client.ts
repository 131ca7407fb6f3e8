import { request } from 'undici';
import type { FleetMembership } from '../control/types.ts';
import { MixscaleError } from '../core/errors.ts';
import type { Instance } from '../core/types.ts';
import type { BackendInfo } from './backends.ts';
import { timerMs } from '../core/clock.ts';

export interface AdminClientOptions {
  /** The router's base URL, e.g. http://127.0.0.1:8080. */
  readonly routerUrl: string;
  /** Bearer token of the router's admin API. */
  readonly token: string;
  /** Per-call timeout (ms). */
  readonly timeoutMs?: number;
}

/**
 * FleetMembership over the router's admin API: the controller registers instances as
 * backends, drains them before terminating, polls their in-flight count and deregisters them.
 */
export class RouterAdminClient implements FleetMembership {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: AdminClientOptions) {
    this.base = o.routerUrl.replace(/\/+$/, '');
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  async register(instance: Instance): Promise<void> {
    if (instance.address === undefined) {
      throw new MixscaleError('MIXSCALE_INTERNAL', `cannot register instance ${instance.id} with the router: it has no address yet`, { instance: instance.id });
    }
    await this.call('POST', '/v1/backends', { id: instance.id, url: instance.address, type: instance.type, pool: instance.pool }, [200, 201]);
  }

  async drain(instanceId: string): Promise<void> {
    await this.call('POST', `/v1/backends/${encodeURIComponent(instanceId)}/drain`, undefined, [200, 404]);
  }

  async inFlight(instanceId: string): Promise<number> {
    const r = await this.call('GET', `/v1/backends/${encodeURIComponent(instanceId)}`, undefined, [200, 404]);
    if (r.status === 404) return 0;
    return (r.body as { backend: BackendInfo }).backend.inFlight;
  }

  async deregister(instanceId: string): Promise<void> {
    await this.call('DELETE', `/v1/backends/${encodeURIComponent(instanceId)}`, undefined, [200, 404]);
  }

  async members(): Promise<ReadonlyMap<string, { readonly url: string; readonly draining: boolean }>> {
    return new Map((await this.list()).map((b) => [b.id, { url: b.url, draining: b.draining }]));
  }

  /** Every backend the router knows, as its admin API describes them. */
  async list(): Promise<BackendInfo[]> {
    const r = await this.call('GET', '/v1/backends', undefined, [200]);
    const backends = (r.body as { backends?: unknown } | undefined)?.backends;
    if (!Array.isArray(backends)) throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router admin API GET ${this.base}/v1/backends answered without a backends list`, { url: `${this.base}/v1/backends` });
    return backends as BackendInfo[];
  }

  private async call(method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, ok: readonly number[]): Promise<{ status: number; body: unknown }> {
    const url = `${this.base}${path}`;
    let status: number;
    let parsed: unknown;
    // One deadline for the whole call (see RouterSnapshotSource): a trickling answer must not hold the tick.
    const signal = AbortSignal.timeout(timerMs(this.timeoutMs));
    try {
      const res = await request(url, {
        signal,
        method,
        headers: { authorization: `Bearer ${this.o.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: timerMs(this.timeoutMs),
        bodyTimeout: timerMs(this.timeoutMs),
      });
      status = res.statusCode;
      const text = await res.body.text();
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch (e) {
      const why = signal.aborted ? `no whole answer within ${this.timeoutMs} ms` : (e as Error).message;
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router admin API ${method} ${url} failed: ${why}`, { url }, { cause: e });
    }
    if (!ok.includes(status)) {
      const why = (parsed as { error?: unknown } | undefined)?.error;
      throw new MixscaleError('MIXSCALE_BACKEND_UNAVAILABLE', `router admin API ${method} ${url} answered ${status}${typeof why === 'string' ? `: ${why}` : ''}`, { url, status });
    }
    return { status, body: parsed };
  }
}
