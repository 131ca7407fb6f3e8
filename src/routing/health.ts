import { type Clock, type TimerHandle, timerMs } from '../core/clock.ts';
import type { Backend, BackendSet } from './backends.ts';

/**
 * Active health checks: every interval, GET /v2/health/ready on each backend, over a connection
 * of its own (a probe never waits behind the backend's requests) and within the probe timeout.
 * A pass brings an unhealthy backend back; failures count like failed requests. Timers come
 * from the Clock.
 */
export class HealthChecker {
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly backends: BackendSet,
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Probes every backend once (draining ones too: their health still matters for in-flight work). */
  async checkAll(): Promise<void> {
    await Promise.all(this.backends.list().map((b) => this.probe(b)));
  }

  private async probe(b: Backend): Promise<void> {
    try {
      // Its own connection, and a time limit covering connect, headers and body.
      const res = await b.probe.request({ path: '/v2/health/ready', method: 'GET', signal: AbortSignal.timeout(timerMs(Math.ceil(this.timeoutMs))) });
      await res.body.dump();
      if (res.statusCode === 200) this.backends.markSuccess(b);
      else this.backends.markFailure(b, `health check answered ${res.statusCode}`);
    } catch (e) {
      this.backends.markFailure(b, `health check failed: ${(e as Error).message}`);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      void this.checkAll().finally(() => this.schedule());
    }, this.intervalMs);
  }
}
