import type { ScalingState } from '../../../src/control/types.ts';
import type { Instance } from '../../../src/core/types.ts';
import { kairosCandidates, rm2Class, rm2Load } from '../../control/kairos-setup.ts';

/** A scaling state on Kairos' setup at `rps`, with an optional fleet. */
export function kairosState(rps: number, nowMs = 0, fleet: Instance[] = [], budgetUsdPerHour = 2.5): ScalingState {
  const load = rm2Load(rps, nowMs);
  return { nowMs, budgetUsdPerHour, fleet, classes: rm2Class, candidates: kairosCandidates, load, observed: load };
}
