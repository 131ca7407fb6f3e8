import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EC2Client } from '@aws-sdk/client-ec2';

export interface AwsClientOptions {
  /** Region; default from the SDK chain (AWS_REGION, profile). */
  readonly region?: string;
  /** A compatible endpoint (LocalStack, a VPC endpoint): `--endpoint-url`. */
  readonly endpointUrl?: string;
}

/**
 * Clients with the SDK's adaptive retry: it backs off on throttling (RequestLimitExceeded)
 * and rate-limits itself client-side, so a burst of reconcile calls does not make it worse.
 * Credentials come from the standard chain (env, profile, instance role).
 */
function common(o: AwsClientOptions) {
  // On Node < 22 the SDK prints nine lines on every AWS command: its versions published after
  // January 2027 will need Node 22. The lockfile pins the versions this checkout runs, so it is
  // off unless the environment asks for it (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false).
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  return {
    retryMode: 'adaptive',
    maxAttempts: 6,
    ...(o.region !== undefined ? { region: o.region } : {}),
    ...(o.endpointUrl !== undefined ? { endpoint: o.endpointUrl } : {}),
  };
}

export function createEc2Client(o: AwsClientOptions = {}): EC2Client {
  return new EC2Client(common(o));
}

export function createCloudWatchClient(o: AwsClientOptions = {}): CloudWatchClient {
  return new CloudWatchClient(common(o));
}
