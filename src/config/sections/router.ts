import { z } from 'zod';
import { byteSize, duration } from '../fields.ts';

/** `router:` — the HTTP request router (see docs/config.md). Owned by the router. */
export const routerSection = z.strictObject({
  listen: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8080) }).default({ host: '127.0.0.1', port: 8080 }),
  /** Bearer token for the admin API; falls back to env MIXSCALE_ADMIN_TOKEN. */
  adminToken: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  bodyLimit: byteSize.default(1024 * 1024),
  requestTimeout: duration.default(30_000),
  backends: z
    .array(z.strictObject({ id: z.string().min(1).optional(), url: z.url(), type: z.string().min(1), pool: z.string().min(1).optional() }))
    .default([]),
});
