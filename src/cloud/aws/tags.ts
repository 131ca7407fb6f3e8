/**
 * Tags that mark what the controller owns. The IAM policy in infra/iam conditions every
 * mutating call on these keys, so the controller cannot touch anything untagged even by bug.
 */
export const TAG_CLUSTER = 'mixscale:cluster';
export const TAG_POOL = 'mixscale:pool';
export const TAG_MANAGED_BY = 'mixscale:managed-by';
export const MANAGED_BY = 'mixscale-controller';
