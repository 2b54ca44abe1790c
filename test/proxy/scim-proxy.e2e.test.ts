import { randomBytes } from 'node:crypto';
import { register } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';
import { startStrictScimServer, type StrictScimServer } from './strict-scim-server.js';

/**
 * `mode: proxy` end to end: Entra's documented sequence (docs/entra-traffic.md §3, the same
 * steps as test/e2e/entra-sequence.test.ts) against a strict RFC 7644 server built on scimmy.
 * Sent directly, Entra's dialect is rejected; through the bridge (OAuth2 client credentials to
 * the upstream, named rewrites, URLs moved to the bridge) it passes, and the upstream ends with
 * exactly the right users, groups and memberships. Failures of the upstream become SCIM errors.
 */

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

let upstream: StrictScimServer;
let silent: TestServer;
let bridge: RunningBridge;
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-scimproxy-${randomBytes(4).toString('hex')}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field
type Answer = { status: number; body: any; headers: Headers };

async function call(url: string, method: string, authorization: string, body?: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const tenant = (id: string) => `${bridge.url}/${id}/scim/v2`;
const viaBridge = (id: string) => (method: string, path: string, body?: unknown) => call(`${tenant(id)}${path}`, method, `Bearer ${secret}`, body);
let upstreamToken: string;
const direct = (method: string, path: string, body?: unknown) => call(`${upstream.baseUrl}${path}`, method, `Bearer ${upstreamToken}`, body);

const entraUser = (userName: string, given: string, family: string) => ({
  schemas: [USER, ENTERPRISE],
  externalId: `ext-${given.toLowerCase()}`,
  userName,
  active: 'True',
  emails: [{ primary: 'True', type: 'work', value: userName }],
  meta: { resourceType: 'User' },
  name: { formatted: `${given} ${family}`, familyName: family, givenName: given },
  roles: [],
  addresses: null,
  [ENTERPRISE]: { department: 'Research' },
});

beforeAll(async () => {
  upstream = await startStrictScimServer();
  silent = await startServer(() => {}); // accepts, never answers
  const tokenResponse = await fetch(upstream.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${upstream.clientId}:${upstream.clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  upstreamToken = ((await tokenResponse.json()) as { access_token: string }).access_token;
  const oauth = { type: 'oauth2', tokenUrl: upstream.tokenUrl, clientId: upstream.clientId, clientSecret: upstream.clientSecret };
  const proxied = (id: string, target: Record<string, unknown>, proxy: Record<string, unknown> = {}) => ({
    id,
    mode: 'proxy',
    auth: { bearer: [secret] },
    target: { timeoutMs: 3_000, ...target },
    proxy,
  });
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    connections: [
      proxied('acme', { baseUrl: upstream.baseUrl, auth: oauth }),
      proxied('raw', { baseUrl: upstream.baseUrl, auth: oauth }, { rewrites: [] }),
      proxied('badcreds', { baseUrl: upstream.baseUrl, auth: { type: 'bearer', token: 'not-the-token' } }),
      proxied('slow', { baseUrl: `${silent.url}/scim/v2`, timeoutMs: 500 }),
      proxied('flaky', { baseUrl: upstream.baseUrl, auth: oauth }, { breaker: { failures: 2, openMs: 300 } }),
      { ...proxied('limited', { baseUrl: upstream.baseUrl, auth: oauth }), rateLimit: { max: 3, windowMs: 60_000 } },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false, worker: false });
});

afterAll(async () => {
  await bridge?.close();
  await upstream?.close();
  await silent?.close();
  await dropPrefix(prefix);
});

describe('mode: proxy in front of a strict SCIM server', () => {
  it('the strict server rejects Entra dialect when called directly', async () => {
    expect((await direct('POST', '/Users', entraUser('zed@example.com', 'Zed', 'Zero'))).status).toBe(400);
    const valid = await direct('POST', '/Users', { schemas: [USER], userName: 'probe@example.com' });
    expect(valid.status).toBe(201);
    const id = valid.body.id as string;
    const rejects = async (operations: unknown[]) => (await direct('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: operations })).status;
    expect(await rejects([{ op: 'Replace', path: 'name.familyName', value: 'X' }])).toBe(400);
    expect(await rejects([{ op: 'replace', path: 'active', value: 'False' }])).toBe(400);
    expect(await rejects([{ op: 'replace', value: { 'name.givenName': 'X' } }])).toBe(400);
    expect(await rejects([{ op: 'replace', path: `${ENTERPRISE}:manager`, value: 'someone' }])).toBe(400);
    const group = await direct('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Probe group' });
    const addMember = await direct('PATCH', `/Groups/${group.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
    });
    expect(addMember.status).toBe(200);
    const removeLegacy = await direct('PATCH', `/Groups/${group.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'remove', path: 'members', value: [{ value: id }] }],
    });
    expect(removeLegacy.status).toBe(400);
    const membership = await direct('GET', `/Groups?filter=${encodeURIComponent(`id eq "${group.body.id}" and members eq "${id}"`)}&attributes=id`);
    expect(membership.status).toBe(400);
    // Clean up so the sequence below starts from an empty directory.
    expect((await direct('DELETE', `/Groups/${group.body.id}`)).status).toBe(204);
    expect((await direct('DELETE', `/Users/${id}`)).status).toBe(204);
  });

  it('passes through the bridge with rewrites switched off: the strict answer reaches Entra unchanged', async () => {
    const raw = await viaBridge('raw')('POST', '/Users', entraUser('zed@example.com', 'Zed', 'Zero'));
    expect(raw.status).toBe(400);
    expect(raw.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
    expect(upstream.users()).toEqual([]);
  });

  it("converges the strict server on Entra's documented sequence", async () => {
    const scim = viaBridge('acme');
    // 1. Test connection probes.
    const probe = await scim('GET', '/Users?filter=userName+eq+%223e59e27b-68ad-41f5-bb0e-dadf130e2ac8%22&aadOptscim062020');
    expect(probe.status).toBe(200);
    expect(probe.body).toMatchObject({ totalResults: 0, Resources: [] });
    const groupProbe = await scim('GET', '/Groups?excludedAttributes=members&filter=displayName+eq+%2255fe0b2b-3cc0-4c6b-9d1e-6f6b4b5c1d3e%22');
    expect(groupProbe.status).toBe(200);
    expect(groupProbe.body.totalResults).toBe(0);

    // 2. Miss, then POST with Entra's body (string booleans, meta, nulls, roles: []).
    expect((await scim('GET', '/Users?filter=userName+eq+%22ada%40example.com%22')).body.totalResults).toBe(0);
    const ada = await scim('POST', '/Users', entraUser('ada@example.com', 'Ada', 'Lovelace'));
    expect(ada.status).toBe(201);
    expect(ada.body.active).toBe(true);
    // URLs point at the bridge, never at the upstream.
    expect(ada.body.meta.location).toBe(`${tenant('acme')}/Users/${ada.body.id}`);
    expect(JSON.stringify(ada.body)).not.toContain(upstream.baseUrl);
    const bob = await scim('POST', '/Users', entraUser('bob@example.com', 'Bob', 'Babbage'));
    const cy = await scim('POST', '/Users', entraUser('cy@example.com', 'Cy', 'Clarke'));
    expect([bob.status, cy.status]).toEqual([201, 201]);
    expect((await scim('POST', '/Users', entraUser('ada@example.com', 'Ada', 'Again'))).status).toBe(409);
    const hit = await scim('GET', '/Users?filter=userName+eq+%22ada%40example.com%22');
    expect(hit.body.totalResults).toBe(1);
    expect(hit.body.Resources[0].id).toBe(ada.body.id);

    // 3. PATCH, legacy dialect: capitalised ops, filtered path, URN path, manager as a string.
    const legacyPatch = await scim('PATCH', `/Users/${ada.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada.lovelace@example.com' },
        { op: 'Replace', path: 'name.familyName', value: 'King' },
        { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Analytical Engines' },
        { op: 'Add', path: `${ENTERPRISE}:manager`, value: bob.body.id },
      ],
    });
    expect(legacyPatch.status).toBe(200);
    expect(legacyPatch.body.emails).toEqual([{ primary: true, type: 'work', value: 'ada.lovelace@example.com' }]);

    // 4. PATCH, aadOptscim062020 dialect: path-less replace with dotted and URN keys.
    const newPatch = await scim('PATCH', `/Users/${ada.body.id}?aadOptscim062020`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { 'name.givenName': 'Augusta Ada', [`${ENTERPRISE}:department`]: 'Mathematics' } }],
    });
    expect(newPatch.status).toBe(200);
    expect(newPatch.body.name.givenName).toBe('Augusta Ada');

    // 5. Disable Bob with the legacy string boolean.
    const disable = await scim('PATCH', `/Users/${bob.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(disable.status).toBe(200);
    expect((await scim('GET', `/Users/${bob.body.id}`)).body.active).toBe(false);

    // 6. Group: miss, create, add members ($ref: null), remove in both dialects, membership checks.
    expect((await scim('GET', '/Groups?excludedAttributes=members&filter=displayName+eq+%22Engineers%22')).body.totalResults).toBe(0);
    const group = await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'Engineers',
      meta: { resourceType: 'Group' },
    });
    expect(group.status).toBe(201);
    expect(group.headers.get('location') ?? group.body.meta.location).toBe(`${tenant('acme')}/Groups/${group.body.id}`);
    const gid = group.body.id as string;
    const members = [ada, bob, cy].map((u) => ({ $ref: null, value: u.body.id }));
    expect([200, 204]).toContain((await scim('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: members }] })).status);
    const removeLegacy = await scim('PATCH', `/Groups/${gid}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: bob.body.id }] }] });
    expect([200, 204]).toContain(removeLegacy.status);
    const membership = await scim('GET', `/Groups?filter=id+eq+%22${gid}%22+and+members+eq+%22${ada.body.id}%22&attributes=id`);
    expect(membership.status).toBe(200);
    expect(membership.body.totalResults).toBe(1);
    const notMember = await scim('GET', `/Groups?filter=id+eq+%22${gid}%22+and+members+eq+%22${bob.body.id}%22&attributes=id`);
    expect(notMember.body.totalResults).toBe(0);
    const groupRead = await scim('GET', `/Groups/${gid}`);
    expect(groupRead.body.members.map((m: { $ref?: string }) => m.$ref ?? '').every((ref: string) => !ref.startsWith(upstream.baseUrl))).toBe(true);

    // 7. Hard delete of Cy; unknown ids are the upstream's 404, as a SCIM error.
    expect((await scim('DELETE', `/Users/${cy.body.id}`)).status).toBe(204);
    const gone = await scim('GET', `/Users/${cy.body.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.status).toBe('404');

    // The upstream holds exactly what Entra said.
    const users = upstream
      .users()
      .map((u) => ({
        userName: u.userName,
        active: u.active,
        name: u.name,
        emails: u.emails,
        enterprise: u[ENTERPRISE],
      }))
      .sort((a, b) => String(a.userName).localeCompare(String(b.userName)));
    expect(users).toEqual([
      {
        userName: 'ada@example.com',
        active: true,
        name: { formatted: 'Ada Lovelace', familyName: 'King', givenName: 'Augusta Ada' },
        emails: [{ primary: true, type: 'work', value: 'ada.lovelace@example.com' }],
        enterprise: { department: 'Mathematics', manager: { value: bob.body.id } },
      },
      {
        userName: 'bob@example.com',
        active: false,
        name: { formatted: 'Bob Babbage', familyName: 'Babbage', givenName: 'Bob' },
        emails: [{ primary: true, type: 'work', value: 'bob@example.com' }],
        enterprise: { department: 'Research' },
      },
    ]);
    const groups = upstream.groups().map((g) => ({
      displayName: g.displayName,
      externalId: g.externalId,
      members: ((g.members as { value: string }[] | undefined) ?? []).map((m) => m.value),
    }));
    expect(groups).toEqual([{ displayName: 'Engineers', externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', members: [ada.body.id] }]);
    // Proxied traffic is counted like any other.
    expect(await register.getSingleMetricAsString('scim_bridge_proxy_requests_total')).toMatch(/kind="scim",connection="acme",status="2xx"\} [1-9]/);
  });

  it('authenticates Entra as any connection, and never forwards its secret', async () => {
    const wrong = await call(`${tenant('acme')}/Users`, 'GET', 'Bearer wrong');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  });

  it('applies the connection rate limit: SCIM 429 with Retry-After, counting only authenticated requests', async () => {
    const limited = viaBridge('limited');
    for (let i = 0; i < 5; i++) expect((await call(`${tenant('limited')}/Users`, 'GET', 'Bearer wrong')).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await limited('GET', '/Users?count=1')).status).toBe(200);
    const throttled = await limited('PATCH', '/Users/anyone', { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(throttled.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other proxy connections keep their own (unlimited) allowance.
    expect((await viaBridge('acme')('GET', '/Users?count=1')).status).toBe(200);
  });

  it('turns upstream failures into SCIM errors: refused credentials, timeouts, a dead upstream, an open circuit', async () => {
    const refused = await viaBridge('badcreds')('GET', '/Users');
    expect(refused.status).toBe(502);
    expect(refused.body).toMatchObject({ status: '502', detail: 'the upstream SCIM service refused the bridge credentials' });

    const slow = await viaBridge('slow')('GET', '/Users');
    expect(slow.status).toBe(504);
    expect(slow.body).toMatchObject({ status: '504', detail: 'the upstream did not answer in time' });

    const flaky = viaBridge('flaky');
    expect((await flaky('GET', '/Users')).status).toBe(200);
    upstream.down();
    try {
      expect((await flaky('GET', '/Users')).status).toBe(502);
      expect((await flaky('GET', '/Users')).status).toBe(502);
      const open = await flaky('GET', '/Users');
      expect(open.status).toBe(503);
      expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(open.body.detail).toMatch(/stopped forwarding/);
    } finally {
      upstream.up();
    }
    // After openMs one trial goes through and closes the circuit (bounded by count, not time).
    let status = 0;
    for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await flaky('GET', '/Users')).status;
    }
    expect(status).toBe(200);
  });
});
