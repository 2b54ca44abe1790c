import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { userBody } from '../api/support.js';
import { eventually, SAMPLE_MAPPING, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';
import { captureIo } from './capture-io.js';

/**
 * `scim-bridge status | jobs | trace` from a config file against Redis, while a real bridge (the
 * fixture, same prefix) delivers to a real target that rejects a user.
 */

describe('ops CLI', () => {
  let fx: BridgeFixture;
  let configFile: string;
  let userName: string;
  let jobId: string;

  const run = async (...args: string[]) => {
    const { io, out } = captureIo();
    const code = await main([...args, '--config', configFile], io);
    return { code, ...out };
  };

  beforeAll(async () => {
    fx = await startBridgeFixture('opscli', { connection: { displayName: 'Acme HR' } });
    const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-ops-cli-'));
    writeFileSync(join(dir, 'secret'), fx.secret);
    writeFileSync(join(dir, 'token'), fx.legacy.token);
    configFile = join(dir, 'bridge.yaml');
    writeFileSync(
      configFile,
      [
        `redis: { url: "${TEST_REDIS_URL}", prefix: ${fx.config.redis.prefix} }`,
        'connections:',
        '  - id: acme',
        '    displayName: Acme HR',
        '    auth: { bearer: ["${file:secret}"] }',
        `    target: { baseUrl: "${fx.legacy.url}", auth: { type: bearer, token: "\${file:token}" } }`,
        `    mapping: ${SAMPLE_MAPPING}`,
        '',
      ].join('\n'),
    );
    expect((await fx.legacy.send('POST', '/_faults', { status: 409, times: 1, match: 'POST /api/v1/accounts' })).status).toBe(204);
    userName = `cli.${randomBytes(3).toString('hex')}@example.com`;
    const created = await fx.scim('POST', '/Users', userBody(userName));
    jobId = `User-${created.body.id}-r1`;
    expect(
      await eventually(async () => {
        const state = fx.bridge.runtime.connection('acme').queue.queue.getJobState(jobId);
        return (await state) === 'failed';
      }),
    ).toBe(true);
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('status prints a table per connection, or JSON', async () => {
    const table = await run('status');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^CONNECTION +NAME +OUTBOX +WAITING +ACTIVE +DELAYED +FAILED/);
    expect(table.stdout).toMatch(/\nacme +Acme HR +\d+ +\d+ +\d+ +\d+ +1 /);
    expect(table.stdout).toContain('GW_DELIVERY_REJECTED 409');
    const json = await run('status', '--json');
    expect(JSON.parse(json.stdout).connections[0]).toMatchObject({ id: 'acme', queue: { counts: { failed: 1 } }, lastFailure: { code: 'GW_DELIVERY_REJECTED' } });
  });

  it('traces a user from its userName to the failed attempt, then retries it', async () => {
    const trace = await run('trace', 'acme', userName);
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stdout).toContain(`User ${userName}`);
    expect(trace.stdout).toMatch(/scim create r1 +.*userName/);
    expect(trace.stdout).toMatch(/delivery failed +.* GW_DELIVERY_REJECTED.*POST \/api\/v1\/accounts → 409/);
    expect(trace.stdout).toContain(`scim-bridge jobs retry acme ${jobId}`);

    const list = await run('jobs', 'list', 'acme');
    expect(list.stdout).toMatch(new RegExp(`${jobId} +failed +User ${userName.replace('.', '\\.')} +1/5 +GW_DELIVERY_REJECTED +409 +create POST /api/v1/accounts`));
    const show = await run('jobs', 'show', 'acme', jobId, '--json');
    expect(JSON.parse(show.stdout)).toMatchObject({ id: jobId, failure: { code: 'GW_DELIVERY_REJECTED', status: 409, action: 'create' } });

    const retry = await run('jobs', 'retry', 'acme', jobId);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`retried ${jobId}`);
    expect(await eventually(async () => (await run('trace', 'acme', userName, '--json')).stdout.includes('"outcome": "delivered"'))).toBe(true);
  });

  it('exits 1 for unknown connections, jobs and users, 2 for usage errors', async () => {
    expect((await run('jobs', 'show', 'nope', 'x')).code).toBe(1);
    expect((await run('jobs', 'show', 'acme', 'User-none-r1')).code).toBe(1);
    expect((await run('trace', 'acme', 'nobody@example.com')).code).toBe(1);
    expect((await run('jobs', 'retry', 'acme', jobId)).code).toBe(1);
    expect((await run('jobs', 'frobnicate', 'acme')).code).toBe(2);
    expect((await run('trace', 'acme')).code).toBe(2);
    expect((await run('status', '--bogus')).code).toBe(2);
  });
});
