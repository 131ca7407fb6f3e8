import { LatencyHistogram } from '../core/histogram.ts';

export interface ClassReport {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  /** Of the successful answers; null when there was none (no percentiles, rather than 0 ms). */
  readonly latencyMs: ReturnType<LatencyHistogram['summary']> | null;
}

/**
 * Latency per class, counted from each request's intended send time (not from when it was
 * actually sent), so a stalled server shows up in the numbers instead of slowing the
 * generator down (no coordinated omission). Failures are counted by reason and their
 * latency is not recorded.
 */
export class LoadRecorder {
  private readonly hist = new Map<string, LatencyHistogram>();
  private readonly counts = new Map<string, { sent: number; ok: number; failed: number }>();
  readonly failures = new Map<string, number>();
  /** The first failure's message per reason. */
  readonly failureExamples = new Map<string, string>();
  /** How late the generator sent, beyond the intended time (its own lag, ms). */
  readonly sendLag = new LatencyHistogram();

  sent(cls: string, lagMs: number): void {
    this.count(cls).sent++;
    this.sendLag.record(lagMs);
  }

  ok(cls: string, latencyMs: number): void {
    this.count(cls).ok++;
    let h = this.hist.get(cls);
    if (h === undefined) this.hist.set(cls, (h = new LatencyHistogram()));
    h.record(latencyMs);
  }

  failed(cls: string, reason: string, message?: string): void {
    this.count(cls).failed++;
    this.failures.set(reason, (this.failures.get(reason) ?? 0) + 1);
    if (message !== undefined && !this.failureExamples.has(reason)) this.failureExamples.set(reason, message);
  }

  get totals(): { sent: number; ok: number; failed: number } {
    const t = { sent: 0, ok: 0, failed: 0 };
    for (const c of this.counts.values()) {
      t.sent += c.sent;
      t.ok += c.ok;
      t.failed += c.failed;
    }
    return t;
  }

  /** Per class, sorted by name, plus `all` (a name the class mix may not use). */
  classes(): Record<string, ClassReport> {
    const out: Record<string, ClassReport> = {};
    const all = new LatencyHistogram();
    for (const name of [...this.counts.keys()].sort()) {
      const c = this.counts.get(name)!;
      const h = this.hist.get(name) ?? new LatencyHistogram();
      all.merge(h);
      out[name] = { ...c, latencyMs: c.ok > 0 ? h.summary() : null };
    }
    const totals = this.totals;
    if (this.counts.size > 1) out.all = { ...totals, latencyMs: totals.ok > 0 ? all.summary() : null };
    return out;
  }

  private count(cls: string): { sent: number; ok: number; failed: number } {
    let c = this.counts.get(cls);
    if (c === undefined) this.counts.set(cls, (c = { sent: 0, ok: 0, failed: 0 }));
    return c;
  }
}
