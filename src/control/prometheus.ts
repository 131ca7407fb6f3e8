import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Instance } from '../core/types.ts';
import type { TickRecord } from './loop.ts';

/** The controller's Prometheus metrics, updated from each tick record. */
export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly budget = new Gauge({ name: 'mixscale_controller_budget_usd_per_hour', help: 'Budget in force ($/h)', registers: [this.registry] });
  private readonly spend = new Gauge({ name: 'mixscale_controller_spend_usd_per_hour', help: 'Billed spend rate of pending + running + draining instances ($/h)', registers: [this.registry] });
  private readonly planned = new Gauge({ name: 'mixscale_controller_planned_spend_usd_per_hour', help: 'Spend rate once this tick’s actions apply ($/h)', registers: [this.registry] });
  private readonly instances = new Gauge({ name: 'mixscale_controller_instances', help: 'Owned instances by type and state', labelNames: ['type', 'state'] as const, registers: [this.registry] });
  private readonly desired = new Gauge({ name: 'mixscale_controller_desired_instances', help: 'Instances per type in the decided mix', labelNames: ['type'] as const, registers: [this.registry] });
  private readonly ticks = new Counter({ name: 'mixscale_controller_ticks_total', help: 'Control ticks by outcome', labelNames: ['status'] as const, registers: [this.registry] });
  private readonly actions = new Counter({ name: 'mixscale_controller_actions_total', help: 'Reconcile actions by kind (and whether they failed)', labelNames: ['kind', 'outcome'] as const, registers: [this.registry] });
  private readonly capacity = new Counter({ name: 'mixscale_controller_capacity_errors_total', help: 'Launches refused for lack of capacity, by type', labelNames: ['type'] as const, registers: [this.registry] });
  private readonly predicted = new Gauge({ name: 'mixscale_controller_predicted_p99_ms', help: 'p99 latency the plan predicts, by class', labelNames: ['class'] as const, registers: [this.registry] });
  private readonly observedRps = new Gauge({ name: 'mixscale_controller_observed_rps', help: 'Arrival rate observed over the last window, by class', labelNames: ['class'] as const, registers: [this.registry] });
  private readonly plannedRps = new Gauge({ name: 'mixscale_controller_planned_rps', help: 'Arrival rate planned for (after the estimator), by class', labelNames: ['class'] as const, registers: [this.registry] });
  private readonly duration = new Histogram({ name: 'mixscale_controller_tick_duration_seconds', help: 'Time one control tick took', buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60], registers: [this.registry] });

  record(rec: TickRecord): void {
    this.ticks.inc({ status: rec.status });
    if (rec.status === 'skipped') return;
    this.duration.observe(rec.durationMs / 1000);
    if (Number.isFinite(rec.budgetUsdPerHour)) this.budget.set(rec.budgetUsdPerHour);
    const r = rec.reconcile;
    if (r !== undefined) {
      this.spend.set(r.spendUsdPerHour);
      this.planned.set(r.plannedSpendUsdPerHour);
      this.setFleet(r.fleet);
      const failed = new Set(r.failures.map((f) => f.action));
      for (const a of r.actions) this.actions.inc({ kind: a.kind, outcome: r.dryRun ? 'dry-run' : failed.has(a) ? 'failed' : 'ok' });
      for (const t of r.capacityErrors) this.capacity.inc({ type: t });
    }
    for (const c of rec.observed?.classes ?? []) this.observedRps.set({ class: c.name }, c.rps);
    for (const c of rec.load?.classes ?? []) this.plannedRps.set({ class: c.name }, c.rps);
    if (rec.decision !== undefined) {
      this.desired.reset();
      for (const [t, n] of Object.entries(rec.decision.mix)) this.desired.set({ type: t }, n);
      for (const [c, p] of Object.entries(rec.decision.plan?.predicted ?? {})) this.predicted.set({ class: c }, p.p99Ms);
    }
  }

  private setFleet(fleet: readonly Instance[]): void {
    this.instances.reset();
    for (const i of fleet) this.instances.inc({ type: i.type, state: i.state });
  }
}
