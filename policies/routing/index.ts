import { MixscaleError } from '../../src/core/errors.ts';
import type { RoutingPolicy } from '../../src/routing/types.ts';
import { createHeterogeneityAware } from './heterogeneity-aware.ts';
import { createLeastOutstanding } from './least-outstanding.ts';
import { createP2c } from './p2c.ts';
import { createRoundRobin } from './round-robin.ts';
import { createShortestExpectedDelay } from './shortest-expected-delay.ts';
import { createSizeSplit } from './size-split.ts';

export type RoutingPolicyOptions = Readonly<Record<string, unknown>>;
export type RoutingPolicyFactory = (options: RoutingPolicyOptions) => RoutingPolicy;

/** Every routing policy by name. One file per policy; add it here. Policies may keep state (a cursor), so each router/simulation creates its own. */
const REGISTRY: Record<string, RoutingPolicyFactory> = {
  'heterogeneity-aware': createHeterogeneityAware,
  'least-outstanding': createLeastOutstanding,
  p2c: createP2c,
  'round-robin': createRoundRobin,
  'shortest-expected-delay': createShortestExpectedDelay,
  'size-split': createSizeSplit,
};

export function routingPolicyNames(): string[] {
  return Object.keys(REGISTRY).sort();
}

export function createRoutingPolicy(name: string, options: RoutingPolicyOptions = {}): RoutingPolicy {
  const f = REGISTRY[name];
  if (f === undefined) {
    throw new MixscaleError('MIXSCALE_POLICY_UNKNOWN', `unknown routing policy "${name}"; available: ${routingPolicyNames().join(', ')}`, { policy: name });
  }
  return f(options);
}
