import assert from 'node:assert/strict';
import { createCloudWatchClient, createEc2Client } from '../../../src/cloud/aws/clients.ts';
import { fromAwsError } from '../../../src/cloud/aws/errors.ts';
import { awsError } from '../support/fake-ec2.ts';

/** Both retry strategy generations carry the mode they were built for. */
const modeOf = (s: object): unknown => ('mode' in s ? s.mode : undefined);

describe('AWS errors and clients', () => {
  it('maps capacity and unsupported-type errors to MIXSCALE_CLOUD_CAPACITY naming the type', () => {
    for (const code of ['InsufficientInstanceCapacity', 'Unsupported', 'VcpuLimitExceeded']) {
      const e = fromAwsError(awsError(code), 'RunInstances', 'p4d.24xlarge');
      assert.equal(e.code, 'MIXSCALE_CLOUD_CAPACITY', code);
      assert.equal(e.details.type, 'p4d.24xlarge');
    }
  });

  it('maps throttling to a retryable API error and a bad request to a non-retryable one', () => {
    const throttled = fromAwsError(awsError('RequestLimitExceeded', 'slow down', 503), 'DescribeInstances');
    assert.equal(throttled.code, 'MIXSCALE_CLOUD_API');
    assert.equal(throttled.details.retryable, true);
    const denied = fromAwsError(awsError('UnauthorizedOperation', 'not allowed'), 'TerminateInstances');
    assert.equal(denied.details.retryable, false);
    assert.match(denied.message, /TerminateInstances: UnauthorizedOperation/);
  });

  it('says when a failed call may still have been carried out: a lost answer or a server error, not a refusal', () => {
    const lost = fromAwsError(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), 'RunInstances', 'r5n.large');
    assert.equal(lost.details.outcomeUnknown, true);
    assert.equal(fromAwsError(awsError('InternalError', 'oops', 500), 'RunInstances').details.outcomeUnknown, true);
    assert.equal(fromAwsError(awsError('RequestLimitExceeded', 'slow down', 503), 'RunInstances').details.outcomeUnknown, false);
    assert.equal(fromAwsError(awsError('UnauthorizedOperation', 'not allowed'), 'RunInstances').details.outcomeUnknown, false);
  });

  it('builds clients with adaptive retry and the given endpoint', async () => {
    const ec2 = createEc2Client({ region: 'eu-west-1', endpointUrl: 'http://127.0.0.1:4566' });
    assert.equal(modeOf(await ec2.config.retryStrategy()), 'adaptive');
    assert.ok((await ec2.config.maxAttempts()) > 1);
    const ep = await ec2.config.endpoint?.();
    assert.equal(ep?.hostname, '127.0.0.1');
    assert.equal(await ec2.config.region(), 'eu-west-1');
    const cw = createCloudWatchClient({ region: 'eu-west-1' });
    assert.equal(modeOf(await cw.config.retryStrategy()), 'adaptive');
  });
});
