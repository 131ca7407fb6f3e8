import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLIENTS = fileURLToPath(new URL('../../../src/cloud/aws/clients.ts', import.meta.url));

/** Makes both clients in a fresh process (the SDK warns once per process) and returns its stderr. */
function stderrOfClients(env: Record<string, string | undefined>): string {
  const script = `const m = await import(${JSON.stringify(CLIENTS)}); m.createEc2Client({ region: 'us-east-1' }); m.createCloudWatchClient({ region: 'us-east-1' });`;
  const r = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

describe('AWS clients', function () {
  this.timeout(60_000);

  it("keep the SDK's Node-version notice off the operator's terminal, unless the environment asks for it", function () {
    // The SDK prints it only on Node < 22: elsewhere there is nothing to keep off.
    if (Number(process.versions.node.split('.')[0]) >= 22) this.skip();
    const env = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined };
    assert.doesNotMatch(stderrOfClients(env), /NodeVersionSupportWarning/);
    assert.match(stderrOfClients({ AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' }), /NodeVersionSupportWarning/);
  });
});
