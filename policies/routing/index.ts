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

/**
 * Every routing policy by name, with the options it takes. One file per policy; add it here.
 * Policies may keep state (a cursor), so each router/simulation creates its own.
 */
const REGISTRY: Record<string, { readonly create: RoutingPolicyFactory; readonly options: readonly string[] }> = {
  'heterogeneity-aware': { create: createHeterogeneityAware, options: ['largeFraction', 'rejectLate', 'frugalFirst'] },
  'least-outstanding': { create: createLeastOutstanding, options: [] },
  p2c: { create: createP2c, options: [] },
  'round-robin': { create: createRoundRobin, options: [] },
  'shortest-expected-delay': { create: createShortestExpectedDelay, options: [] },
  'size-split': { create: createSizeSplit, options: ['threshold'] },
};

export function routingPolicyNames(): string[] {
  return Object.keys(REGISTRY).sort();
}

export function createRoutingPolicy(name: string, options: RoutingPolicyOptions = {}): RoutingPolicy {
  const f = Object.hasOwn(REGISTRY, name) ? REGISTRY[name] : undefined;
  if (f === undefined) {
    throw new MixscaleError('MIXSCALE_POLICY_UNKNOWN', `unknown routing policy "${name}"; available: ${routingPolicyNames().join(', ')}`, { policy: name });
  }
  for (const k of Object.keys(options)) {
    if (!f.options.includes(k)) throw new MixscaleError('MIXSCALE_CONFIG_INVALID', `routing.options.${k}: not an option of ${name} (${f.options.length > 0 ? `allowed: ${f.options.join(', ')}` : 'it takes none'})`);
  }
  return f.create(options);
}

/**
 * The routing policy a run or router uses: the configured `routing.policy` gets
 * `routing.options`, another one (`--routing`, `--policy`) runs with its defaults.
 */
export function createConfiguredRoutingPolicy(name: string, configured: string, options: RoutingPolicyOptions): RoutingPolicy {
  return createRoutingPolicy(name, name === configured ? options : {});
}
