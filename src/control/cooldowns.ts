import type { Ms } from '../core/types.ts';

/**
 * Instance types that recently failed to launch for lack of capacity (or are unsupported
 * in the zone). A type in cooldown is offered to the scaling policy as unavailable, so it
 * plans with the rest; after the cooldown it is tried again.
 */
export class CapacityCooldowns {
  private readonly until = new Map<string, Ms>();

  /** `since`: cooldowns a previous controller left (type → when each ends), e.g. from the status file. */
  constructor(
    private readonly cooldownMs: Ms,
    since?: ReadonlyMap<string, Ms>,
  ) {
    for (const [t, u] of since ?? []) this.until.set(t, u);
  }

  /** Each type still cooling down at `nowMs`, with when its cooldown ends: what a successor needs. */
  entries(nowMs: Ms): ReadonlyMap<string, Ms> {
    this.unavailable(nowMs);
    return this.until;
  }

  mark(type: string, nowMs: Ms): void {
    this.until.set(type, nowMs + this.cooldownMs);
  }

  /** Types still cooling down at `nowMs` (expired ones are forgotten). */
  unavailable(nowMs: Ms): Set<string> {
    const out = new Set<string>();
    for (const [t, u] of this.until) {
      if (u > nowMs) out.add(t);
      else this.until.delete(t);
    }
    return out;
  }
}
