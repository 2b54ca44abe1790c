import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import { queueName } from '../../src/delivery/types.js';
import { findOrStartRedis, freePort, redisAnswers } from '../../src/lib/redis-bootstrap.js';
import { eventually, SAMPLE_MAPPING } from '../helpers/bridge.js';
import { deleteByPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { killAllCli, spawnCli } from './spawn-cli.js';

/**
 * The `scim-bridge` processes as an operator runs them: `serve --no-worker` and `worker` apart on
 * one Redis, and `demo`, each spawned with `node --import tsx`, in front of the real sample
 * legacy API.
 */

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PROCESS_TIMEOUT = 90_000;

interface Account {
  account_id: string;
  login: string;
  last_name: string | null;
  department: string | null;
  status: string;
}

const prefixes: string[] = [];
let redis: Redis;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  await killAllCli();
  for (const prefix of prefixes) await deleteByPrefix(redis, prefix);
  await redis.quit();
});

function uniquePrefix(label: string): string {
  const prefix = `sbtest-cli-${label}-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
}

/** Child env: ours minus anything that would steer the child elsewhere, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  for (const name of ['REDIS_URL', 'PORT', 'SCIM_BRIDGE_CONFIG', 'DEMO_SCIM_SECRET', 'DEMO_OAUTH_CLIENT_SECRET', 'DEMO_OAUTH_CLIENT_ID', 'DEMO_LEGACY_URL', 'DEMO_LEGACY_TOKEN', 'DEMO_REDIS_PREFIX', 'DEMO_ADMIN_PASSWORD']) {
    delete env[name];
  }
  return { ...env, ...extra };
}

async function scim(tenantUrl: string, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${tenantUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

async function legacyAccounts(url: string, token: string): Promise<Account[]> {
  const res = await fetch(`${url}/api/v1/accounts`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Account[] }).data;
}

const entraUser = (userName: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
  externalId: randomBytes(8).toString('hex'),
  userName,
  active: true,
  displayName: 'Grace Hopper',
  emails: [{ primary: true, type: 'work', value: userName }],
  name: { formatted: 'Grace Hopper', familyName: 'Hopper', givenName: 'Grace' },
  [ENTERPRISE]: { department: 'Navy' },
});


describe('serve --no-worker and worker as separate processes on one Redis', () => {
  let dir: string;
  let legacy: Awaited<ReturnType<typeof startSampleLegacyApi>>;
  const legacyToken = randomBytes(12).toString('hex');
  const scimSecret = randomBytes(16).toString('hex');
  const prefix = uniquePrefix('split');

  beforeAll(async () => {
    legacy = await startSampleLegacyApi({ token: legacyToken });
    dir = await mkdtemp(join(tmpdir(), 'scim-bridge-cli-'));
    await writeFile(
      join(dir, 'bridge.yaml'),
      [
        'listen:',
        '  host: 127.0.0.1',
        '  port: 0',
        'redis:',
        '  url: ${env:REDIS_URL}',
        `  prefix: ${prefix}`,
        'logLevel: warn',
        'connections:',
        '  - id: acme',
        '    auth:',
        '      bearer:',
        '        - ${env:ACME_SCIM_SECRET}',
        '    target:',
        '      baseUrl: ${env:ACME_LEGACY_URL}',
        '      auth:',
        '        type: bearer',
        '        token: ${env:ACME_LEGACY_TOKEN}',
        '      timeoutMs: 2000',
        `    mapping: ${SAMPLE_MAPPING}`,
        '    delivery:',
        '      attempts: 5',
        '      backoffMs: 20',
        '      maxBackoffMs: 200',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await killAllCli();
    await legacy?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it(
    'delivers what the API process accepted through the worker process, and both exit 0 on SIGTERM',
    async () => {
      const env = childEnv({
        REDIS_URL: TEST_REDIS_URL,
        ACME_SCIM_SECRET: scimSecret,
        ACME_LEGACY_URL: legacy.url,
        ACME_LEGACY_TOKEN: legacyToken,
      });
      const config = join(dir, 'bridge.yaml');

      const api = spawnCli(['serve', '--config', config, '--no-worker'], env);
      const [, baseUrl] = await api.waitForLine(/^scim-bridge listening on (http:\/\/127\.0\.0\.1:(\d+))$/);
      expect(baseUrl).not.toMatch(/:0$/);
      const tenantUrl = `${baseUrl}/acme/scim/v2`;
      await api.waitForLine(new RegExp(`^connection acme: ${tenantUrl.replace(/[.]/g, '\\.')}$`));

      const userName = 'grace.hopper@navy.example';
      const probe = await scim(tenantUrl, scimSecret, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
      expect(probe.status).toBe(200);
      expect(probe.body).toMatchObject({ totalResults: 0 });
      const created = await scim(tenantUrl, scimSecret, 'POST', '/Users', entraUser(userName));
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id = created.body?.id as string;

      // Only the API runs so far: the accepted write waits in the connection's outbox, and
      // nothing is queued until a worker process's relay takes it.
      const redis = new Redis(TEST_REDIS_URL);
      const queue = new Queue(queueName('acme'), { connection: { url: TEST_REDIS_URL }, prefix: `${prefix}:{bull}` });
      try {
        expect(await redis.zcard(`${prefix}:c:{acme}:outbox`)).toBe(1);
        expect(await queue.getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active', 'completed')).toBe(0);
      } finally {
        await queue.close();
        await redis.quit();
      }
      expect(await legacyAccounts(legacy.url, legacyToken)).toEqual([]);

      const worker = spawnCli(['worker', '--config', config], env);
      await worker.waitForLine(/^scim-bridge worker delivering for acme$/);
      const delivered = await eventually(async () => (await legacyAccounts(legacy.url, legacyToken)).find((a) => a.login === userName));
      expect(delivered).toMatchObject({ login: userName, last_name: 'Hopper', department: 'Navy', status: 'ENABLED' });

      const patched = await scim(tenantUrl, scimSecret, 'PATCH', `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'name.familyName', value: 'Murray Hopper' },
          { op: 'Replace', path: 'active', value: 'False' },
        ],
      });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      const updated = await eventually(async () =>
        (await legacyAccounts(legacy.url, legacyToken)).find((a) => a.login === userName && a.last_name === 'Murray Hopper' && a.status === 'DISABLED'),
      );
      expect(updated, JSON.stringify(await legacyAccounts(legacy.url, legacyToken))).toBeDefined();
      expect(await legacyAccounts(legacy.url, legacyToken)).toHaveLength(1);

      const [apiExit, workerExit] = await Promise.all([api.stop('SIGTERM'), worker.stop('SIGTERM')]);
      expect(apiExit, api.stderr()).toEqual({ code: 0, signal: null });
      expect(workerExit, worker.stderr()).toEqual({ code: 0, signal: null });
    },
    PROCESS_TIMEOUT,
  );

  it('exits 2 with the usage on an unknown option', async () => {
    const proc = spawnCli(['serve', '--config', join(dir, 'bridge.yaml'), '--nope'], childEnv({}));
    const result = await proc.exit();
    expect(result).toEqual({ code: 2, signal: null });
    expect(proc.stderr()).toMatch(/^scim-bridge serve: Unknown option '--nope'/);
  });
});

describe('demo', () => {
  it(
    'prints the Tenant URL, Secret Token and the OAuth fields first, serves both modes and delivers to its legacy API',
    async () => {
      const prefix = uniquePrefix('demo');
      // LOG_LEVEL=info: request logs must not get in front of the two lines the admin pastes.
      const demo = spawnCli(['demo'], childEnv({ PORT: '0', REDIS_URL: TEST_REDIS_URL, DEMO_REDIS_PREFIX: prefix, LOG_LEVEL: 'info' }));
      const [, legacyUrl, legacyToken] = await demo.waitForLine(/^Sample legacy API: (http:\/\/\S+) \(Bearer (\S+)\)$/);
      const [tenantLine, tokenLine] = demo.lines;
      const tenant = /^Tenant URL: (http:\/\/127\.0\.0\.1:(\d+)\/demo\/scim\/v2)$/.exec(tenantLine ?? '');
      const token = /^Secret Token: (\S+)$/.exec(tokenLine ?? '');
      expect(tenant, tenantLine).not.toBeNull();
      expect(token, tokenLine).not.toBeNull();
      expect(Number(tenant![2])).toBeGreaterThan(0);
      const tenantUrl = tenant![1]!;
      const secret = token![1]!;

      // Then (after any OAuth lines) the dashboard and its credentials, which guard it.
      const dashboardAt = demo.lines.findIndex((line) => line.startsWith('Dashboard: '));
      expect(dashboardAt).toBeGreaterThan(1);
      const dashboard = /^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/admin\/queues)$/.exec(demo.lines[dashboardAt] ?? '');
      const admin = /^Admin: (\S+) \/ (\S+)$/.exec(demo.lines[dashboardAt + 1] ?? '');
      expect(dashboard, demo.lines[dashboardAt]).not.toBeNull();
      expect(admin, demo.lines[dashboardAt + 1]).not.toBeNull();
      expect((await fetch(dashboard![1]!)).status).toBe(401);
      const login = `Basic ${Buffer.from(`${admin![1]}:${admin![2]}`).toString('base64')}`;
      expect((await fetch(dashboard![1]!, { headers: { authorization: login } })).status).toBe(200);

      const userName = 'ada@example.com';
      const probe = await scim(tenantUrl, secret, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
      expect(probe.status).toBe(200);
      expect(probe.body).toMatchObject({ totalResults: 0, Resources: [] });
      const created = await scim(tenantUrl, secret, 'POST', '/Users', entraUser(userName));
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const account = await eventually(async () => (await legacyAccounts(legacyUrl!, legacyToken!)).find((a) => a.login === userName));
      expect(account).toMatchObject({ login: userName, status: 'ENABLED' });

      // The OAuth mode: the next four lines, in this order; a token from the printed endpoint
      // (client_secret_basic, as Entra sends it) opens the second connection.
      const [oauthTenantLine, endpointLine, clientIdLine, clientSecretLine] = demo.lines.slice(2);
      const oauthTenantUrl = /^OAuth Tenant URL: (http:\/\/127\.0\.0\.1:\d+\/demo-oauth\/scim\/v2)$/.exec(oauthTenantLine ?? '')?.[1];
      const tokenEndpoint = /^Token Endpoint: (http:\/\/127\.0\.0\.1:\d+\/demo-oauth\/oauth2\/token)$/.exec(endpointLine ?? '')?.[1];
      const clientId = /^Client ID: (\S+)$/.exec(clientIdLine ?? '')?.[1];
      const clientSecret = /^Client Secret: (\S+)$/.exec(clientSecretLine ?? '')?.[1];
      expect([oauthTenantUrl, tokenEndpoint, clientId, clientSecret], demo.lines.join('\n')).not.toContain(undefined);
      const tokenResponse = await fetch(tokenEndpoint!, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      expect(tokenResponse.status).toBe(200);
      const { access_token: accessToken, token_type: tokenType } = (await tokenResponse.json()) as { access_token: string; token_type: string };
      expect(tokenType).toBe('Bearer');
      expect((await scim(oauthTenantUrl!, secret, 'GET', '/Users')).status).toBe(401);
      const oauthUser = 'grace@example.com';
      const viaOauth = await scim(oauthTenantUrl!, accessToken, 'POST', '/Users', entraUser(oauthUser));
      expect(viaOauth.status, JSON.stringify(viaOauth.body)).toBe(201);
      const oauthAccount = await eventually(async () => (await legacyAccounts(legacyUrl!, legacyToken!)).find((a) => a.login === oauthUser));
      expect(oauthAccount).toMatchObject({ login: oauthUser, status: 'ENABLED' });

      expect(await demo.stop('SIGTERM'), demo.stderr()).toEqual({ code: 0, signal: null });
    },
    PROCESS_TIMEOUT,
  );

  it(
    'exits non-zero with one line saying how to provide Redis when REDIS_URL does not answer',
    async () => {
      const port = await freePort();
      const demo = spawnCli(['demo'], childEnv({ PORT: '0', REDIS_URL: `redis://127.0.0.1:${port}` }));
      const result = await demo.exit();
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(demo.lines).toEqual([]);
      const lines = demo.stderr().trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^No Redis answers at REDIS_URL \\(redis://127\\.0\\.0\\.1:${port}\\): .*REDIS_URL=redis://host:port`));
    },
    PROCESS_TIMEOUT,
  );
});

describe('findOrStartRedis', () => {
  it('starts a private redis-server when nothing answers at the default URL, and stops it', async () => {
    const unreachable = `redis://127.0.0.1:${await freePort()}`;
    expect(await redisAnswers(unreachable, 200)).toBe(false);
    const found = await findOrStartRedis({}, { defaultUrl: unreachable });
    try {
      expect(found.child).toBeDefined();
      expect(found.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      expect(found.url).not.toBe(unreachable);
      const client = new Redis(found.url);
      try {
        await client.set('probe', 'ok');
        expect(await client.get('probe')).toBe('ok');
      } finally {
        client.disconnect();
      }
    } finally {
      await found.stop();
    }
    expect(found.child!.exitCode !== null || found.child!.signalCode !== null).toBe(true);
    expect(await redisAnswers(found.url, 200)).toBe(false);
  });

  it('uses a Redis that answers at REDIS_URL without starting one', async () => {
    const found = await findOrStartRedis({ REDIS_URL: TEST_REDIS_URL }, { defaultUrl: 'redis://127.0.0.1:1' });
    expect(found.url).toBe(TEST_REDIS_URL);
    expect(found.child).toBeUndefined();
    await found.stop();
  });
});
