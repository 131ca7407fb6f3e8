import { fileURLToPath } from 'node:url';
import { loadConfigObject, type LoadedConfig } from '../../src/config/load.ts';
import { ADMIN_TOKEN } from './harness.ts';

export const EDGE_PROFILE = fileURLToPath(new URL('../../models/digits-cnn/profile.csv', import.meta.url));

/** GPU nodes serve rm2, edge boxes serve the multi-exit digits CNN: one router, two models. */
export function twoModelConfig(routing: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): LoadedConfig {
  return loadConfigObject({
    budget: { usdPerHour: 10 },
    profiles: [EDGE_PROFILE],
    classes: [
      { name: 'rec', model: 'rm2', slo: '350ms' },
      { name: 'digits', model: 'digits-cnn', slo: '200ms' },
    ],
    pools: [
      { name: 'gpu', type: 'g4dn.xlarge', models: ['rm2'] },
      { name: 'edge', type: 't3.xlarge', slots: 1, models: ['digits-cnn'] },
    ],
    routing: { policy: 'least-outstanding', ...routing },
    router: { adminToken: ADMIN_TOKEN },
    ...extra,
  });
}

