import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { main } from '../../src/cli/main.js';
import { configFromObject } from '../../src/config/load.js';
import { PROXY_REWRITES } from '../../src/config/schema.js';
import { appliedRewrites, proxyOperation, resourceIdOf, writtenAttributes } from '../../src/proxy/proxy-timeline.js';
import { createSchemaRegistry } from '../../src/scim/schema-registry.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { captureIo } from '../cli/capture-io.js';
import { startStrictScimServer, type StrictScimServer } from './strict-scim-server.js';

/**
 * Proxied writes in the resource timeline: what `scim-bridge trace` and the admin API show for a
 * `mode: proxy` connection (operation, attribute names, rewrites applied, upstream status,
 * latency), never attribute values.
 */

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PASSWORD = 'proxy-timeline-pass';
const admin = { authorization: `Basic ${Buffer.from(`ops:${PASSWORD}`).toString('base64')}` };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are asserted field by field
type Json = any;

let upstream: StrictScimServer;
let traced: string;
let bridge: RunningBridge;
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-proxytl-${randomBytes(4).toString('hex')}`;

async function call(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
const scim = (method: string, path: string, body?: unknown) => call(`${bridge.url}/acme/scim/v2${path}`, method, { authorization: `Bearer ${secret}` }, body);
const api = (path: string) => call(`${bridge.url}/admin/api${path}`, 'GET', admin);

beforeAll(async () => {
  upstream = await startStrictScimServer();
  const oauth = { type: 'oauth2', tokenUrl: upstream.tokenUrl, clientId: upstream.clientId, clientSecret: upstream.clientSecret };
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    admin: { username: 'ops', password: PASSWORD },
    connections: [{ id: 'acme', mode: 'proxy', auth: { bearer: [secret] }, target: { baseUrl: upstream.baseUrl, auth: oauth, timeoutMs: 3_000 } }],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await bridge?.close();
  await upstream?.close();
  await dropPrefix(prefix);
});

describe('proxied writes in the timeline', () => {
  it('records create, patch, a failed patch and delete under the upstream id, with names, rewrites and statuses only', async () => {
    const created = await scim('POST', '/Users', {
      schemas: [USER, ENTERPRISE],
      userName: 'grace@example.com',
      active: 'True',
      name: { givenName: 'Grace', familyName: 'Hopper' },
      emails: [{ type: 'work', value: 'grace@example.com', primary: 'True' }],
      addresses: null,
      [ENTERPRISE]: { department: 'Navy' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const patched = await scim('PATCH', `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'grace.hopper@example.com' },
      ],
    });
    expect(patched.status).toBe(200);
    upstream.down();
    try {
      expect((await scim('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'title', value: 'Rear Admiral' }] })).status).toBe(502);
    } finally {
      upstream.up();
    }
    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
    // Reads and refused writes without a resource leave no entry.
    expect((await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "grace@example.com"')}`)).status).toBe(200);

    traced = id;
    const trace = await api(`/connections/acme/trace?q=${id}`);
    expect(trace.status).toBe(200);
    expect(trace.body).toMatchObject({ connection: 'acme', mode: 'proxy', resource: { type: 'User', id, exists: false }, jobs: [] });
    const events = trace.body.events as Json[];
    expect(events.map((e) => [e.kind, e.op, e.outcome, e.status, e.upstreamStatus])).toEqual([
      ['proxy', 'create', 'forwarded', 201, 201],
      ['proxy', 'patch', 'forwarded', 200, 200],
      ['proxy', 'patch', 'failed', 502, undefined],
      ['proxy', 'delete', 'forwarded', 204, 204],
    ]);
    expect(events[0]).toMatchObject({
      attributes: ['active', 'addresses', 'emails', 'name', `${ENTERPRISE}:department`, 'userName'],
      rewrites: ['booleanStrings', 'dropNulls'],
      requestId: expect.any(String),
      durationMs: expect.any(Number),
    });
    expect(events[1]).toMatchObject({ attributes: ['active', 'emails'], rewrites: ['lowercaseOps', 'booleanStrings'] });
    expect(events[2]).toMatchObject({ attributes: ['title'], rewrites: [], code: 'GW_PROXY_UNREACHABLE' });
    expect(events[3]).toMatchObject({ attributes: [], rewrites: [] });
    // Metrics and the request log name the operation as for a bridged connection.
    expect(await bridge.runtime.metrics.render()).toContain('scim_bridge_scim_requests_total{connection="acme",operation="PATCH /Users/:id",status="200"} 1');
    const text = JSON.stringify(trace.body);
    for (const value of ['Grace', 'Hopper', 'Navy', 'grace', 'Rear Admiral', 'work']) expect(text).not.toContain(value);
  });

  it('shows the same story in `scim-bridge trace`', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scim-bridge-proxy-trace-'));
    writeFileSync(join(dir, 'secret'), secret);
    writeFileSync(join(dir, 'client'), upstream.clientSecret);
    const configFile = join(dir, 'bridge.yaml');
    writeFileSync(
      configFile,
      [
        `redis: { url: "${TEST_REDIS_URL}", prefix: ${prefix} }`,
        'connections:',
        '  - id: acme',
        '    mode: proxy',
        '    auth: { bearer: ["${file:secret}"] }',
        `    target: { baseUrl: "${upstream.baseUrl}", auth: { type: oauth2, tokenUrl: "${upstream.tokenUrl}", clientId: ${upstream.clientId}, clientSecret: "\${file:client}" } }`,
        '',
      ].join('\n'),
    );
    const { io, out } = captureIo();
    expect(await main(['trace', 'acme', traced, '--config', configFile], io)).toBe(0);
    expect(out.stdout).toContain(`User (id ${traced}) in acme (mode: proxy`);
    expect(out.stdout).toMatch(/proxy create forwarded .*upstream 201 → 201.*rewrites booleanStrings, dropNulls/);
    expect(out.stdout).toMatch(/proxy patch failed .*title → 502 GW_PROXY_UNREACHABLE/);
    expect(out.stdout).not.toContain('Grace');
  });

  it('answers 404 for an id it never saw, and explains that proxy connections have no jobs', async () => {
    expect((await api('/connections/acme/trace?q=nobody')).status).toBe(404);
    const jobs = await api('/connections/acme/jobs');
    expect(jobs.status).toBe(404);
    expect(jobs.body.detail).toMatch(/mode: proxy/);
  });
});

describe('timeline helpers', () => {
  const registry = createSchemaRegistry([]);
  const all = new Set(PROXY_REWRITES);

  it('names written attributes without values, filters or sub-attributes', () => {
    expect(
      writtenAttributes('patch', {
        Operations: [
          { op: 'add', path: 'members', value: [{ value: 'u1' }] },
          { op: 'replace', path: `${ENTERPRISE}:manager.value`, value: 'm' },
          { op: 'replace', value: { 'name.givenName': 'A', displayName: 'B' } },
        ],
      }),
    ).toEqual(['displayName', 'members', 'name', `${ENTERPRISE}:manager`]);
    expect(writtenAttributes('delete', undefined)).toEqual([]);
    expect(writtenAttributes('replace', { schemas: [USER], id: 'x', meta: {}, userName: 'u' })).toEqual(['userName']);
  });

  it('lists only the rewrites that changed the request', () => {
    const strict = { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] };
    expect(appliedRewrites({ type: 'User', registry }, 'patch', strict, all)).toEqual([]);
    const entra = { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: 'u1' }, { value: 'u2' }] }] };
    expect(appliedRewrites({ type: 'Group', registry }, 'patch', entra, all)).toEqual(['lowercaseOps', 'memberRemoveValueArray']);
  });

  it('labels proxied requests like bridged routes, with a bounded set of operations', () => {
    const base = '/acme/scim/v2';
    expect(proxyOperation('PATCH', `${base}/Users/2819c223?aadOptscim062020`, base)).toBe('PATCH /Users/:id');
    expect(proxyOperation('GET', `${base}/groups?filter=x`, base)).toBe('GET /Groups');
    expect(proxyOperation('POST', `${base}/Users/.search`, base)).toBe('POST /Users/.search');
    expect(proxyOperation('GET', `${base}/Schemas/urn:x`, base)).toBe('GET /Schemas/:id');
    expect(proxyOperation('GET', `${base}/anything/${'x'.repeat(50)}`, base)).toBe('GET /*');
    expect(proxyOperation('GET', `${base}/Users/1/extra`, base)).toBe('GET /Users/*');
    expect(proxyOperation('GET', base, base)).toBe('GET /');
  });

  it('finds the resource id in the path', () => {
    expect(resourceIdOf('/acme/scim/v2/Users/a%20b?x=1', '/acme/scim/v2')).toBe('a b');
    expect(resourceIdOf('/acme/scim/v2/Users', '/acme/scim/v2')).toBeUndefined();
    expect(resourceIdOf('/acme/scim/v2/Groups/g/members', '/acme/scim/v2')).toBeUndefined();
  });
});
