import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSampleLegacyApi } from '../../examples/sample-legacy-api/app.js';
import { queueName } from '../../src/delivery/types.js';
import { killAllCli, spawnCli, type CliProcess } from '../cli/spawn-cli.js';
import { eventually, SAMPLE_MAPPING } from '../helpers/bridge.js';
import { deleteByPrefix, TEST_REDIS_URL } from '../helpers/redis.js';

/**
 * Scale-out as it is deployed: two API processes and two worker processes (each spawned, as in
 * production) on one Redis. Users and group memberships come in through both APIs; one worker
 * is SIGKILLed mid-run. The target must end exactly as the SCIM side says: every account once,
 * with its latest attributes, every team with exactly its members, and no failed delivery.
 */

const USERS = 80;
const CORE = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const TIMEOUT = 180_000;

interface Account {
  account_id: string;
  login: string;
  last_name: string | null;
  status: string;
}
interface Team {
  team_id: string;
  name: string;
  members: string[];
}

const prefix = `sbtest-scaleout-${randomBytes(4).toString('hex')}`;
const scimSecret = randomBytes(16).toString('hex');
const legacyToken = randomBytes(12).toString('hex');
let redis: Redis;
let dir: string;
let legacy: Awaited<ReturnType<typeof startSampleLegacyApi>>;

beforeAll(async () => {
  redis = new Redis(TEST_REDIS_URL);
  legacy = await startSampleLegacyApi({ token: legacyToken });
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-scaleout-'));
  await writeFile(
    join(dir, 'bridge.yaml'),
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      'redis:',
      '  url: ${env:REDIS_URL}',
      `  prefix: ${prefix}`,
      'logLevel: warn',
      'connections:',
      '  - id: acme',
      '    auth: { bearer: ["${env:ACME_SCIM_SECRET}"] }',
      '    target:',
      '      baseUrl: ${env:ACME_LEGACY_URL}',
      '      auth: { type: bearer, token: "${env:ACME_LEGACY_TOKEN}" }',
      '      timeoutMs: 5000',
      `    mapping: ${SAMPLE_MAPPING}`,
      '    delivery: { attempts: 20, backoffMs: 50, maxBackoffMs: 1000 }',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await killAllCli();
  await legacy?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

function env(): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn' };
  for (const name of ['PORT', 'SCIM_BRIDGE_CONFIG']) delete base[name];
  return { ...base, REDIS_URL: TEST_REDIS_URL, ACME_SCIM_SECRET: scimSecret, ACME_LEGACY_URL: legacy.url, ACME_LEGACY_TOKEN: legacyToken };
}

async function startApi(): Promise<string> {
  const api = spawnCli(['serve', '--no-worker', '--config', join(dir, 'bridge.yaml')], env());
  const [, url] = await api.waitForLine(/^scim-bridge listening on (http:\/\/127\.0\.0\.1:\d+)$/, 60_000);
  return `${url}/acme/scim/v2`;
}

async function startWorker(): Promise<CliProcess> {
  const worker = spawnCli(['worker', '--config', join(dir, 'bridge.yaml')], env());
  await worker.waitForLine(/^scim-bridge worker delivering for acme$/, 60_000);
  return worker;
}

async function scim(tenantUrl: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${tenantUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${scimSecret}`, 'content-type': 'application/scim+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> | undefined };
}

async function legacyGet<T>(path: string): Promise<T[]> {
  const res = await fetch(`${legacy.url}${path}`, { headers: { authorization: `Bearer ${legacyToken}` } });
  return ((await res.json()) as { data: T[] }).data;
}

describe('two API and two worker processes on one Redis', () => {
  it(
    'deliver everything exactly once although one worker is SIGKILLed mid-run',
    async () => {
      const [apiA, apiB] = await Promise.all([startApi(), startApi()]);
      const [workerA, workerB] = await Promise.all([startWorker(), startWorker()]);
      const apis = [apiA, apiB];

      // Users through both APIs, Entra-style (probe by filter, then create), a few at a time.
      const ids: string[] = [];
      const userName = (i: number) => `user${i}@scale.example`;
      let killed = false;
      for (let i = 0; i < USERS; i += 8) {
        const batch = Array.from({ length: Math.min(8, USERS - i) }, (_, k) => i + k);
        const created = await Promise.all(
          batch.map(async (n) => {
            const api = apis[n % 2]!;
            const probe = await scim(api, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName(n)}"`)}`);
            expect(probe.status).toBe(200);
            return scim(api, 'POST', '/Users', {
              schemas: [CORE],
              userName: userName(n),
              active: true,
              name: { givenName: 'User', familyName: `Number${n}` },
              emails: [{ type: 'work', primary: true, value: userName(n) }],
            });
          }),
        );
        for (const res of created) {
          expect(res.status, JSON.stringify(res.body)).toBe(201);
          ids.push(res.body!.id as string);
        }
        // Kill one worker once deliveries are flowing, so it dies with jobs in flight.
        if (!killed && (await legacyGet<Account>('/api/v1/accounts')).length >= 16) {
          await workerA.kill();
          killed = true;
        }
      }
      if (!killed) await workerA.kill();

      // Later changes through the other API than the one that created each user.
      const renamed = ids.filter((_, i) => i % 3 === 0);
      for (const [i, id] of ids.entries()) {
        if (i % 3 !== 0) continue;
        const res = await scim(apis[(i + 1) % 2]!, 'PATCH', `/Users/${id}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'Replace', path: 'name.familyName', value: `Renamed${i}` }],
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      }
      // Two groups, their members added from both APIs.
      const groups = await Promise.all(
        ['Engineering', 'Sales'].map((displayName) => scim(apiA, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName })),
      );
      const groupIds = groups.map((g) => g.body!.id as string);
      const memberIds = [ids.filter((_, i) => i % 2 === 0), ids.filter((_, i) => i % 5 === 0)];
      for (const [g, groupId] of groupIds.entries()) {
        for (let k = 0; k < memberIds[g]!.length; k += 10) {
          const res = await scim(apis[k % 2]!, 'PATCH', `/Groups/${groupId}`, {
            schemas: [PATCH_OP],
            Operations: [{ op: 'Add', path: 'members', value: memberIds[g]!.slice(k, k + 10).map((value) => ({ value })) }],
          });
          expect(res.status, JSON.stringify(res.body)).toBe(204);
        }
      }

      // The surviving worker converges the target.
      const expectedName = (i: number) => (i % 3 === 0 ? `Renamed${i}` : `Number${i}`);
      const converged = await eventually(
        async () => {
          const accounts = await legacyGet<Account>('/api/v1/accounts');
          if (accounts.length !== USERS) return false;
          if (!accounts.every((a) => a.last_name === expectedName(Number(/\d+/.exec(a.login)![0])))) return false;
          const teams = await legacyGet<Team>('/api/v1/teams');
          return teams.length === 2 && teams.every((t) => t.members.length === memberIds[t.name === 'Engineering' ? 0 : 1]!.length);
        },
        { timeoutMs: 150_000, intervalMs: 500 },
      );
      const accounts = await legacyGet<Account>('/api/v1/accounts');
      expect(converged, `accounts: ${accounts.length}`).toBe(true);

      // Exactly once: one account per userName, each team with exactly its members.
      expect(new Set(accounts.map((a) => a.login)).size).toBe(USERS);
      const accountByLogin = new Map(accounts.map((a) => [a.login, a.account_id]));
      const teams = await legacyGet<Team>('/api/v1/teams');
      for (const [g, name] of ['Engineering', 'Sales'].entries()) {
        const expected = memberIds[g]!.map((id) => accountByLogin.get(userName(ids.indexOf(id))));
        expect(teams.find((t) => t.name === name)!.members.sort()).toEqual(expected.sort());
      }
      expect(renamed.length).toBeGreaterThan(0);
      const queue = new Queue(queueName('acme'), { connection: { url: TEST_REDIS_URL }, prefix: `${prefix}:{bull}` });
      try {
        expect(await queue.getJobCountByTypes('failed')).toBe(0);
      } finally {
        await queue.close();
      }
      await workerB.stop('SIGTERM');
    },
    TIMEOUT,
  );
});
