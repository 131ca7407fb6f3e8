import { z } from 'zod';

/** `node:` — serving nodes for local runs (see docs/config.md). Owned by the nodes. */
export const nodeSection = z.strictObject({
  host: z.string().default('127.0.0.1'),
});
