import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWidgetsCrm } from '../../examples/widgets-crm/app.js';
import { startBridge, type RunningBridge } from '../../src/bridge.js';
import { configFromObject } from '../../src/config/load.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { eventually } from '../helpers/bridge.js';
import { TEST_REDIS_URL, dropPrefix } from '../helpers/redis.js';

/**
 * mappings/widgets-crm.yaml, written from docs/mapping.md alone, proven against the real fake
 * Widgets CRM: a real bridge (API + worker, real Redis, real BullMQ) takes Entra's provisioning
 * sequence over HTTP, and the CRM must end up holding exactly the mapped person.
 */

const MAPPING = fileURLToPath(new URL('../../mappings/widgets-crm.yaml', import.meta.url));
const MAPPING_DOC = fileURLToPath(new URL('../../docs/mapping.md', import.meta.url));
const CONNECTION = 'widgets';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Person {
  id: string;
  username: string;
  externalKey: string | null;
  state: 'active' | 'suspended';
  profile: { givenName: string | null; familyName: string | null; displayName: string | null; jobTitle: string | null };
  contact: { email: string | null; phone: string | null };
  createdAt: string;
  updatedAt: string;
}
type PersonView = Omit<Person, 'id' | 'createdAt' | 'updatedAt'>;
interface LoggedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  status: number;
}
/** Marks the test's own calls to the CRM so the request log can be narrowed to the bridge's. */
const PROBE_HEADER = 'x-test-probe';

const apiKey = randomBytes(12).toString('hex');
const secret = randomBytes(16).toString('hex');
const prefix = `sbtest-widgets-${randomBytes(4).toString('hex')}`;
let crm: Awaited<ReturnType<typeof startWidgetsCrm>>;
let bridge: RunningBridge;
let tenantUrl: string;

beforeAll(async () => {
  crm = await startWidgetsCrm({ apiKey });
  const config = configFromObject({
    redis: { url: TEST_REDIS_URL, prefix },
    logLevel: 'silent',
    connections: [
      {
        id: CONNECTION,
        auth: { bearer: [secret] },
        target: { baseUrl: crm.url, auth: { type: 'apiKey', header: 'X-Api-Key', value: apiKey }, timeoutMs: 2000 },
        mapping: MAPPING,
        delivery: { attempts: 5, backoffMs: 20, maxBackoffMs: 200 },
      },
    ],
  });
  bridge = await startBridge(config, { listen: { host: '127.0.0.1', port: 0 }, logger: false });
  tenantUrl = `${bridge.url}/${CONNECTION}/scim/v2`;
});

afterAll(async () => {
  await bridge?.close();
  await crm?.close();
  await dropPrefix(prefix);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- SCIM bodies are asserted field by field
async function scim(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${tenantUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${secret}`, ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function crmCall<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${crm.url}${path}`, {
    method,
    headers: { 'x-api-key': apiKey, [PROBE_HEADER]: '1', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function peopleNamed(username: string): Promise<Person[]> {
  const res = await crmCall<{ items: Person[] }>('GET', `/v2/people?username=${encodeURIComponent(username)}`);
  return res.body.items;
}

function view({ id: _id, createdAt: _c, updatedAt: _u, ...rest }: Person): PersonView {
  return rest;
}

/** Polls the CRM until it holds exactly one person `username` equal to `expected`; returns it. */
async function expectPersonEventually(username: string, expected: PersonView): Promise<Person> {
  let seen: Person[] = [];
  await eventually(async () => {
    seen = await peopleNamed(username);
    return seen.length === 1 && isDeepStrictEqual(view(seen[0]!), expected);
  });
  expect(seen.map(view)).toEqual([expected]);
  return seen[0]!;
}

/** The calls the bridge made to the CRM, oldest first. */
async function bridgeCalls(): Promise<LoggedRequest[]> {
  const { requests } = (await crmCall<{ requests: LoggedRequest[] }>('GET', '/_requests')).body;
  return requests.filter((r) => r.headers[PROBE_HEADER] === undefined);
}

const userBody = (userName: string, given: string, family: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
  externalId: `obj-${given.toLowerCase()}`,
  userName,
  active: 'True',
  displayName: `${given} ${family}`,
  title: 'Analyst',
  emails: [{ primary: true, type: 'work', value: userName }],
  phoneNumbers: [{ type: 'work', value: '+44 20 7946 0000' }],
  meta: { resourceType: 'User' },
  name: { formatted: `${given} ${family}`, familyName: family, givenName: given },
  roles: [],
  addresses: null,
  [ENTERPRISE]: { department: 'Research' },
});

describe('widgets CRM behind the bridge, through mappings/widgets-crm.yaml', () => {
  it('converges the CRM on exactly the mapped person through an Entra sequence', async () => {
    const probe = await scim('GET', '/Users?filter=userName+eq+%223e59e27b-68ad-41f5-bb0e-dadf130e2ac8%22&aadOptscim062020');
    expect(probe.status).toBe(200);
    expect(probe.body).toMatchObject({ totalResults: 0, Resources: [] });

    const ada = await scim('POST', '/Users', userBody('Ada.Lovelace@contoso.example', 'Ada', 'Lovelace'));
    expect(ada.status).toBe(201);
    const username = 'Ada.Lovelace@contoso.example';
    const created: PersonView = {
      username,
      externalKey: 'obj-ada',
      state: 'active',
      profile: { givenName: 'Ada', familyName: 'Lovelace', displayName: 'Ada Lovelace', jobTitle: 'Analyst' },
      contact: { email: 'Ada.Lovelace@contoso.example', phone: '+44 20 7946 0000' },
    };
    const person = await expectPersonEventually(username, created);

    const legacyPatch = await scim('PATCH', `/Users/${ada.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada.king@contoso.example' },
        { op: 'Replace', path: 'title', value: 'Lead Analyst' },
        { op: 'Remove', path: 'phoneNumbers[type eq "work"].value' },
      ],
    });
    expect(legacyPatch.status).toBe(200);
    const afterLegacy: PersonView = {
      ...created,
      profile: { ...created.profile, jobTitle: 'Lead Analyst' },
      contact: { email: 'ada.king@contoso.example', phone: null },
    };
    await expectPersonEventually(username, afterLegacy);

    const newPatch = await scim('PATCH', `/Users/${ada.body.id}?aadOptscim062020`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { 'name.givenName': 'Augusta Ada', 'name.familyName': 'King', displayName: 'Augusta Ada King' } }],
    });
    expect(newPatch.status).toBe(200);
    const afterNew: PersonView = {
      ...afterLegacy,
      profile: { givenName: 'Augusta Ada', familyName: 'King', displayName: 'Augusta Ada King', jobTitle: 'Lead Analyst' },
    };
    await expectPersonEventually(username, afterNew);

    const disable = await scim('PATCH', `/Users/${ada.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(disable.status).toBe(200);
    await expectPersonEventually(username, { ...afterNew, state: 'suspended' });

    const enable = await scim('PATCH', `/Users/${ada.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] });
    expect(enable.status).toBe(200);
    await expectPersonEventually(username, afterNew);

    expect((await scim('DELETE', `/Users/${ada.body.id}`)).status).toBe(204);
    expect(await eventually(async () => (await crmCall('GET', `/v2/people/${person.id}`)).status === 404)).toBe(true);
    expect(await peopleNamed(username)).toEqual([]);

    const id = person.id;
    const calls = await bridgeCalls();
    expect(calls.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/v2/people?username=Ada.Lovelace%40contoso.example', 200],
      ['POST', '/v2/people', 201],
      ['PATCH', `/v2/people/${id}`, 200],
      ['PATCH', `/v2/people/${id}`, 200],
      ['PATCH', `/v2/people/${id}`, 200],
      ['PATCH', `/v2/people/${id}`, 200],
      ['DELETE', `/v2/people/${id}`, 204],
    ]);
    expect(calls.slice(4, 6).map((r) => r.body)).toEqual([{ state: 'suspended' }, { state: 'active' }]);
    expect(calls.every((r) => r.headers['x-api-key'] !== undefined)).toBe(true);
  });

  it('rejects a work email the CRM would refuse at the SCIM door', async () => {
    const body = { ...userBody('eve@contoso.example', 'Eve', 'Moneypenny'), emails: [{ primary: true, type: 'work', value: 'not an email' }] };
    const res = await scim('POST', '/Users', body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ scimType: 'invalidValue' });
    expect(res.body.detail).toMatch(/work email/);
  });

  it('retries a create the CRM answers 503 twice, and the person still arrives', async () => {
    await crmCall('DELETE', '/_requests');
    expect((await crmCall('POST', '/_faults', { status: 503, times: 2, match: 'POST /v2/people' })).status).toBe(204);

    const bob = await scim('POST', '/Users', userBody('bob@contoso.example', 'Bob', 'Babbage'));
    expect(bob.status).toBe(201);
    await expectPersonEventually('bob@contoso.example', {
      username: 'bob@contoso.example',
      externalKey: 'obj-bob',
      state: 'active',
      profile: { givenName: 'Bob', familyName: 'Babbage', displayName: 'Bob Babbage', jobTitle: 'Analyst' },
      contact: { email: 'bob@contoso.example', phone: '+44 20 7946 0000' },
    });
    const creates = (await bridgeCalls()).filter((r) => r.method === 'POST' && r.path === '/v2/people');
    expect(creates.map((r) => r.status)).toEqual([503, 503, 201]);
  });

  it('fails a create the CRM answers 422 into the failed set, with the status', async () => {
    expect((await crmCall('POST', '/_faults', { status: 422, match: 'POST /v2/people' })).status).toBe(204);

    const cy = await scim('POST', '/Users', userBody('cy@contoso.example', 'Cy', 'Clarke'));
    expect(cy.status).toBe(201);
    const queue = bridge.runtime.connection(CONNECTION).queue.queue;
    const failed = await eventually(async () => {
      const jobs = await queue.getFailed();
      return jobs.find((job) => (job.data as DeliveryJobData).id === cy.body.id);
    });
    expect(failed).toBeDefined();
    expect(failed?.failedReason).toMatch(/422/);
    expect(failed?.attemptsMade).toBe(1);
    expect(await peopleNamed('cy@contoso.example')).toEqual([]);
  });

  it('is quoted verbatim in the worked example of docs/mapping.md', async () => {
    const [doc, mapping] = await Promise.all([readFile(MAPPING_DOC, 'utf8'), readFile(MAPPING, 'utf8')]);
    const quoted = /\[`mappings\/widgets-crm\.yaml`\]\([^)]*\):\n\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(quoted).toBe(mapping);
  });
});
