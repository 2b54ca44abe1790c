import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllCli, spawnCli, type CliProcess } from '../cli/spawn-cli.js';
import { eventually } from '../helpers/bridge.js';
import { readJson, startServer, type TestServer } from '../helpers/http-server.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';

/**
 * `delivery.confirm.mode: first-attempt` with the API and the worker as separate processes
 * (`serve --no-worker` and `worker`), meeting only in Redis, in front of a loopback target that
 * refuses some accounts: Entra must see the target's reason, and the bridge must forget the
 * refused change.
 */

const PROCESS_TIMEOUT = 120_000;
const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const MAPPING = `version: 1
users:
  fields:
    login: userName
    name: displayName
  create:
    method: POST
    path: /accounts
    targetId: id
  update:
    method: PUT
    path: /accounts/{targetId}
`;

interface Account {
  id: string;
  login: string;
  name: string;
}

const accounts = new Map<string, Account>();
let target: TestServer;
let dir: string;
let api: CliProcess;
let worker: CliProcess;
let tenantUrl: string;
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-first-attempt-${randomBytes(4).toString('hex')}`;

/** Refuses by what the name says, like a target with its own rules would. */
async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = (await readJson(req)) as { login: string; name: string };
  const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
  if (body.name.includes('forbidden')) return void json(400, { error: { code: 'E_NAME', message: `name "${body.name}" contains a forbidden word` } });
  if (body.name.includes('taken')) return void json(409, { message: 'an account with this login already exists' });
  if (body.name.includes('flaky') && !accounts.has(body.login)) {
    accounts.set(body.login, { id: '', login: body.login, name: 'pending' });
    return void json(503, { message: 'try later' });
  }
  if (body.name.includes('slow')) await new Promise((r) => setTimeout(r, 2_500));
  if (body.name.includes('slow')) return void json(400, { message: 'refused after a long think' });
  if (req.method === 'POST') {
    const account = { id: `acc-${accounts.size + 1}`, login: body.login, name: body.name };
    accounts.set(body.login, account);
    return void json(201, account);
  }
  const id = req.url?.split('/').pop();
  const existing = [...accounts.values()].find((a) => a.id === id);
  if (!existing) return void json(404, { message: 'no such account' });
  existing.name = body.name;
  json(200, existing);
}

async function scim(method: string, path: string, body?: unknown) {
  const res = await fetch(`${tenantUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as any, contentType: res.headers.get('content-type') };
}

const user = (userName: string, displayName: string) => ({ schemas: [SCHEMA_USER], userName, displayName, active: true });

beforeAll(async () => {
  target = await startServer((req, res) => void handle(req, res));
  dir = await mkdtemp(join(tmpdir(), 'scim-bridge-first-attempt-'));
  await writeFile(join(dir, 'mapping.yaml'), MAPPING);
  await writeFile(
    join(dir, 'bridge.yaml'),
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      `redis: { url: "\${env:REDIS_URL}", prefix: ${prefix} }`,
      'logLevel: warn',
      'connections:',
      '  - id: acme',
      '    auth: { bearer: ["${env:SCIM_SECRET}"] }',
      `    target: { baseUrl: "${target.url}", timeoutMs: 5000 }`,
      '    mapping: mapping.yaml',
      '    delivery: { attempts: 5, backoffMs: 50, maxBackoffMs: 200, confirm: { mode: first-attempt, waitMs: 1500 } }',
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: TEST_REDIS_URL, SCIM_SECRET: secret, LOG_LEVEL: 'warn' };
  delete env.SCIM_BRIDGE_CONFIG;
  api = spawnCli(['serve', '--config', join(dir, 'bridge.yaml'), '--no-worker'], env);
  worker = spawnCli(['worker', '--config', join(dir, 'bridge.yaml')], env);
  const [, baseUrl] = await api.waitForLine(/^scim-bridge listening on (http:\/\/127\.0\.0\.1:\d+)$/);
  await worker.waitForLine(/^scim-bridge worker delivering for acme$/);
  tenantUrl = `${baseUrl}/acme/scim/v2`;
}, PROCESS_TIMEOUT);

afterAll(async () => {
  await killAllCli();
  await target?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

describe('first-attempt confirmation across processes', () => {
  it('answers 201 once the target has the account', async () => {
    const created = await scim('POST', '/Users', user('ada@example.com', 'Ada'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The answer came after the first attempt, so the target already holds the account.
    expect(accounts.get('ada@example.com')).toMatchObject({ name: 'Ada' });
  });

  it("turns the target's 400 into 400 invalidValue with its reason, and forgets the user", async () => {
    const refused = await scim('POST', '/Users', user('bob@example.com', 'Bob forbidden'));
    expect(refused.status).toBe(400);
    expect(refused.contentType).toMatch(/^application\/scim\+json/);
    expect(refused.body).toMatchObject({ scimType: 'invalidValue', status: '400' });
    // Quoted values are scrubbed from every SCIM detail (they may be personal data).
    expect(refused.body.detail).toMatch(/^the target application rejected the user \(HTTP 400\): name ".*" contains a forbidden word$/);

    const listed = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "bob@example.com"')}`);
    expect(listed.body).toMatchObject({ totalResults: 0 });
    // The userName is free again: the corrected user goes through.
    const retried = await scim('POST', '/Users', user('bob@example.com', 'Bob'));
    expect(retried.status, JSON.stringify(retried.body)).toBe(201);
    expect(accounts.get('bob@example.com')).toMatchObject({ name: 'Bob' });
  });

  it("turns the target's 409 into 409 uniqueness", async () => {
    const refused = await scim('POST', '/Users', user('cy@example.com', 'Cy taken'));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ scimType: 'uniqueness' });
    expect(refused.body.detail).toContain('an account with this login already exists');
  });

  it('rolls a refused PATCH back to the previous document, and the target keeps its value', async () => {
    const created = await scim('POST', '/Users', user('dee@example.com', 'Dee'));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const patched = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Dee forbidden' }],
    });
    expect(patched.status).toBe(400);
    expect(patched.body.detail).toContain('contains a forbidden word');
    const read = await scim('GET', `/Users/${id}`);
    expect(read.status).toBe(200);
    expect(read.body.displayName).toBe('Dee');
    expect(accounts.get('dee@example.com')?.name).toBe('Dee');

    const fixed = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', path: 'displayName', value: 'Dee Dee' }],
    });
    expect(fixed.status).toBe(200);
    expect(accounts.get('dee@example.com')?.name).toBe('Dee Dee');
  });

  it('answers success on a transient failure and lets the queue deliver', async () => {
    const created = await scim('POST', '/Users', user('eve@example.com', 'Eve flaky'));
    expect(created.status).toBe(201);
    const delivered = await eventually(async () => accounts.get('eve@example.com')?.id);
    expect(delivered).toMatch(/^acc-/);
  });

  it('answers success when the wait runs out, and keeps the change even if the target refuses later', async () => {
    const created = await scim('POST', '/Users', user('fay@example.com', 'Fay slow'));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // The refusal arrives after the answer; the user stays (the job is in the failed set).
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const failed = await eventually(
        async () => (await redis.zcard(`${prefix}:{bull}:delivery-acme:failed`)) > 0,
        { timeoutMs: 30_000 },
      );
      expect(failed).toBe(true);
    } finally {
      await redis.quit();
    }
    expect((await scim('GET', `/Users/${id}`)).status).toBe(200);
  });
});
