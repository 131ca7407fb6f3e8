import { ConfigError, MixscaleError } from '../../src/core/errors.ts';
import type { ScalingPolicy } from '../../src/control/types.ts';
import { createFastFrugal, FAST_FRUGAL_OPTIONS } from './fast-frugal.ts';
import { createHomogeneousCheap } from './homogeneous-cheap.ts';
import { createHomogeneousFast } from './homogeneous-fast.ts';
import { createKairos } from './kairos.ts';
import { createOracleStatic } from './oracle-static.ts';
import { createStaticMix } from './static-mix.ts';
import { createTargetTracking } from './target-tracking.ts';

/** Options a scaling policy is built with: `scaling.options` from config, plus context. */
export type ScalingPolicyOptions = Readonly<Record<string, unknown>>;
/** What a policy may need to know about the rest of the system (from the same config). */
export interface ScalingContext {
  /** The router binds requests late (routing.lateBinding): all slots share one queue. */
  readonly lateBinding: boolean;
  /**
   * The config's pools' types, when the caller has them (the config loader does): an option
   * naming another type (static-mix's mix, a baseline's type) is an error, not a fleet that serves nothing.
   */
  readonly poolTypes?: readonly string[];
}
const DEFAULT_SCALING_CONTEXT: ScalingContext = { lateBinding: true };
export type ScalingPolicyFactory = (options: ScalingPolicyOptions, context: ScalingContext) => ScalingPolicy;

/** Every scaling policy by name, with the options it takes. One file per policy; add it here. */
const REGISTRY: Record<string, { readonly create: ScalingPolicyFactory; readonly options: readonly string[] }> = {
  'fast-frugal': { create: createFastFrugal, options: FAST_FRUGAL_OPTIONS },
  kairos: { create: createKairos, options: [] },
  'oracle-static': { create: createOracleStatic, options: ['mix'] },
  'homogeneous-cheap': { create: createHomogeneousCheap, options: ['type'] },
  'homogeneous-fast': { create: createHomogeneousFast, options: ['type'] },
  'static-mix': { create: createStaticMix, options: ['mix'] },
  'target-tracking': { create: createTargetTracking, options: ['type', 'targetUtilization', 'tolerance', 'stabilizationWindow'] },
};

export function scalingPolicyNames(): string[] {
  return Object.keys(REGISTRY).sort();
}

export function createScalingPolicy(name: string, options: ScalingPolicyOptions = {}, context: ScalingContext = DEFAULT_SCALING_CONTEXT): ScalingPolicy {
  const f = Object.hasOwn(REGISTRY, name) ? REGISTRY[name] : undefined;
  if (f === undefined) {
    throw new MixscaleError('MIXSCALE_POLICY_UNKNOWN', `unknown scaling policy "${name}"; available: ${scalingPolicyNames().join(', ')}`, { policy: name });
  }
  for (const k of Object.keys(options)) {
    if (!f.options.includes(k)) throw new ConfigError(`scaling.options.${k}: not an option of ${name} (${f.options.length > 0 ? `allowed: ${f.options.join(', ')}` : 'it takes none'})`);
  }
  return f.create(options, context);
}

/**
 * The scaling policy for one run of a comparison (`sim.compare`, `--compare`): the configured
 * `scaling.policy` gets `scaling.options`, any other runs with its defaults. One that cannot run
 * on its defaults (static-mix needs a mix) says why.
 */
export function createComparedScalingPolicy(name: string, configured: string, options: ScalingPolicyOptions, context: ScalingContext = DEFAULT_SCALING_CONTEXT): ScalingPolicy {
  if (name === configured) return createScalingPolicy(name, options, context);
  try {
    return createScalingPolicy(name, {}, context);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new ConfigError(`${e.message} (${name} runs beside scaling.policy "${configured}" with its default options: scaling.options belong to scaling.policy, so make ${name} the scaling.policy to give it options)`);
    }
    throw e;
  }
}
