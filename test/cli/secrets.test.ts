import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authKeys } from '../../src/auth/secret-store.js';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { freePort } from '../../src/lib/redis-bootstrap.js';
import { SAMPLE_MAPPING } from '../helpers/bridge.js';
import { deleteByPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { scimClient } from '../api/support.js';
import { captureIo } from './capture-io.js';
import { eventuallyStatus } from '../helpers/wait.js';

/**
 * `scim-bridge secrets` against the Redis of a config file while an API runs on the same
 * config: what the CLI creates, rotates and revokes, the running API honours without a restart.
 */

const prefix = `sbtest-secrets-${randomBytes(4).toString('hex')}`;
let dir: string;
let file: string;
let bridge: RunningBridge;
let redis: Redis;

const configYaml = (redisUrl: string) =>
  [
    'listen: { host: 127.0.0.1, port: 0 }',
    `redis: { url: "${redisUrl}", prefix: ${prefix} }`,
    'logLevel: silent',
    'connections:',
    '  - id: acme',
    '    auth:',
    // Short, so the test does not wait out the 5 s default staleness.
    '      managedSecretsCacheMs: 100',
    '      oauth2: {}',
    '    target: { baseUrl: "http://127.0.0.1:9" }',
    `    mapping: ${SAMPLE_MAPPING}`,
    '',
  ].join('\n');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-secrets-'));
  file = join(dir, 'bridge.yaml');
  await writeFile(file, configYaml(TEST_REDIS_URL));
  bridge = await startBridge(await loadConfig(file), { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await bridge?.close();
  await deleteByPrefix(redis, prefix);
  await redis?.quit();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]) {
  const { io, out } = captureIo();
  const code = await main(['secrets', ...args], io);
  return { code, ...out };
}

function field(output: string, label: string): string {
  const match = new RegExp(`^${label}: (\\S+)$`, 'm').exec(output);
  expect(match, output).not.toBeNull();
  return match![1]!;
}

const users = (token: string) => scimClient(`${bridge.url}/acme/scim/v2`, token).request('GET', '/Users');


describe('scim-bridge secrets', () => {
  it('creates a bearer secret once, which the running API accepts; list never shows it', async () => {
    const created = await cli('create', 'acme', '--config', file);
    expect(created.code, created.stderr).toBe(0);
    const token = field(created.stdout, 'Secret Token');
    expect(field(created.stdout, 'Tenant URL')).toMatch(/\/acme\/scim\/v2$/);
    await eventuallyStatus(() => users(token), 200);

    const listed = await cli('list', 'acme', '--config', file);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+KIND\s+CLIENT ID\s+CREATED\s+EXPIRES\s+LAST USED/);
    expect(listed.stdout).not.toContain(token);
    expect(listed.stdout).not.toContain(token.slice(-20));
    const json = JSON.parse((await cli('list', 'acme', '--json', '--config', file)).stdout) as Record<string, unknown>[];
    expect(json).toEqual([expect.objectContaining({ kind: 'bearer', createdAt: expect.any(String) })]);
    expect(JSON.stringify(json)).not.toMatch(/sha256|hash/);
    // Nothing readable in Redis either: only the hash.
    const stored = JSON.stringify(await redis.hgetall(authKeys(prefix, 'acme').secrets));
    expect(stored).toContain('sha256:');
    expect(stored).not.toContain(token.slice(-20));
  });

  it('rotates with a grace period: both work, then the old one expires', async () => {
    const first = field((await cli('create', 'acme', '--config', file)).stdout, 'Secret Token');
    await eventuallyStatus(() => users(first), 200);
    const rotated = await cli('rotate', 'acme', '--grace', '1h', '--config', file);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toMatch(/^old secret [0-9a-f]{12} stays valid until \d{4}-/m);
    const second = field(rotated.stdout, 'Secret Token');
    await eventuallyStatus(() => users(second), 200);
    expect((await users(first)).status).toBe(200);

    // A rotation with no grace ends the old secrets at once (an emergency rotation).
    const third = field((await cli('rotate', 'acme', '--grace', '0s', '--config', file)).stdout, 'Secret Token');
    await eventuallyStatus(() => users(third), 200);
    expect((await users(first)).status).toBe(401);
    expect((await users(second)).status).toBe(401);
  });

  it('revokes a secret by id', async () => {
    const created = await cli('create', 'acme', '--expires', '30d', '--config', file);
    const token = field(created.stdout, 'Secret Token');
    const id = /^secret id ([0-9a-f]{12}), expires \d{4}-/m.exec(created.stdout)?.[1];
    expect(id, created.stdout).toBeDefined();
    await eventuallyStatus(() => users(token), 200);
    const revoked = await cli('revoke', 'acme', id!, '--config', file);
    expect(revoked.code, revoked.stderr).toBe(0);
    await eventuallyStatus(() => users(token), 401);
    expect((await cli('list', 'acme', '--config', file)).stdout).not.toContain(id);
  });

  it('creates an OAuth client whose credentials get a token at the printed endpoint', async () => {
    const created = await cli('create', 'acme', '--kind', 'client', '--config', file);
    expect(created.code, created.stderr).toBe(0);
    const clientId = field(created.stdout, 'Client ID');
    const clientSecret = field(created.stdout, 'Client Secret');
    expect(field(created.stdout, 'Token Endpoint')).toMatch(/\/acme\/oauth2\/token$/);
    const getToken = () =>
      fetch(`${bridge.url}/acme/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
      });
    await eventuallyStatus(getToken, 200);
    const { access_token: token } = (await (await getToken()).json()) as { access_token: string };
    expect((await users(token)).status).toBe(200);
  });

  it('names usage problems with exit 2, unknown ids with exit 1 and GW_AUTH_SECRET_NOT_FOUND', async () => {
    expect(await cli('create', 'nope', '--config', file)).toMatchObject({ code: 2, stderr: expect.stringMatching(/no connection "nope"/) });
    expect(await cli('rotate', 'acme', '--grace', 'soon', '--config', file)).toMatchObject({ code: 2, stderr: expect.stringMatching(/--grace/) });
    expect(await cli('explode', 'acme', '--config', file)).toMatchObject({ code: 2 });
    expect(await cli('revoke', 'acme', '--config', file)).toMatchObject({ code: 2 });
    expect(await cli('revoke', 'acme', 'feedfeedfeed', '--config', file)).toMatchObject({ code: 1, stderr: expect.stringMatching(/^GW_AUTH_SECRET_NOT_FOUND/) });
  });

  it('exits 2 with one line when the Redis of the config does not answer', async () => {
    const other = join(dir, 'down.yaml');
    await writeFile(other, configYaml(`redis://127.0.0.1:${await freePort()}`));
    const result = await cli('list', 'acme', '--config', other);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^scim-bridge secrets: Redis at redis:\/\/127\.0\.0\.1:\d+ does not answer\n$/);
  });
});
