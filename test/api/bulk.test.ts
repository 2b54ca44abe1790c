import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account, Team } from '../../examples/sample-legacy-api/directory.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';
import { SCHEMA_ERROR, SCHEMA_GROUP, SCHEMA_PATCH, SCHEMA_USER, startApiBridge, tag, type ApiBridge, type ScimClient } from './support.js';

/**
 * Bulk (RFC 7644 §3.7) against running bridges on real Redis: limits advertised and enforced,
 * `bulkId` references in paths and member values, ordering, cycles, failOnErrors, the same
 * validation as single requests, and, with the worker and the sample legacy API, the same
 * delivery.
 */

const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

let bridge: ApiBridge;
let api: ScimClient;

beforeAll(async () => {
  bridge = await startApiBridge('bulk', { connections: [{ id: 'acme' }] });
  api = bridge.clients.acme as ScimClient;
});
afterAll(() => bridge?.close());

const bulk = (Operations: unknown[], extra: Record<string, unknown> = {}) => api.request('POST', '/Bulk', { schemas: [BULK_REQUEST], ...extra, Operations });
const user = (userName: string) => ({ schemas: [SCHEMA_USER], userName, emails: [{ type: 'work', value: userName }] });
const name = () => `bulk-${tag()}@example.com`;

describe('limits', () => {
  it('advertises bulk in ServiceProviderConfig', async () => {
    const config = (await api.request('GET', '/ServiceProviderConfig')).body;
    expect(config.bulk).toEqual({ supported: true, maxOperations: 1000, maxPayloadSize: 1_048_576 });
  });

  it('answers 413 tooMany over maxOperations, storing nothing', async () => {
    const userName = name();
    const ops = Array.from({ length: 1001 }, (_, i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: user(i === 0 ? userName : `${i}-${userName}`) }));
    const res = await bulk(ops);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], status: '413', scimType: 'tooMany' });
    expect(res.body.detail).toContain('1000');
    expect((await api.request('GET', `/Users?filter=userName eq "${userName}"`)).body.totalResults).toBe(0);
  });

  it('answers 413 with a SCIM body over maxPayloadSize', async () => {
    const res = await bulk([{ method: 'POST', path: '/Users', bulkId: 'big', data: { ...user(name()), title: 'x'.repeat(1_100_000) } }]);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], status: '413' });
  });

  it('answers 405 with Allow: POST and a SCIM body to other methods', async () => {
    const res = await api.request('GET', '/Bulk');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], status: '405' });
  });

  it.each([
    ['a body that is not an object', []],
    ['no Operations', { schemas: [BULK_REQUEST] }],
    ['a bad failOnErrors', { schemas: [BULK_REQUEST], failOnErrors: 0, Operations: [] }],
  ])('answers 400 for %s', async (_label, body) => {
    const res = await api.request('POST', '/Bulk', body);
    expect(res.status).toBe(400);
    expect(res.body.schemas).toEqual([SCHEMA_ERROR]);
  });
});

describe('operations', () => {
  it('creates a user and a group naming it by bulkId, then updates and deletes, reporting status, location and version', async () => {
    const userName = name();
    const res = await bulk([
      { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [SCHEMA_GROUP], displayName: `Team ${tag()}`, members: [{ value: 'bulkId:u' }] } },
      { method: 'POST', path: '/Users', bulkId: 'u', data: user(userName) },
      { method: 'PATCH', path: '/Users/bulkId:u', data: { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }] } },
      { method: 'PUT', path: '/Groups/bulkId:g', data: { schemas: [SCHEMA_GROUP], displayName: `Renamed ${tag()}`, members: [{ value: 'bulkId:u' }] } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([BULK_RESPONSE]);
    const [group, created, patched, replaced] = res.body.Operations;
    // The group waits for the user it names, yet each result sits in its request slot.
    expect(created).toMatchObject({ method: 'POST', bulkId: 'u', status: '201', version: 'W/"1"' });
    expect(group).toMatchObject({ method: 'POST', bulkId: 'g', status: '201' });
    expect(patched).toMatchObject({ method: 'PATCH', status: '200', location: created.location, version: 'W/"2"' });
    expect(replaced).toMatchObject({ method: 'PUT', status: '200', location: group.location });

    const userId = (created.location as string).split('/').pop();
    const read = await api.request('GET', `/Users/${userId}`);
    expect(read.body).toMatchObject({ userName, title: 'Engineer' });
    expect(read.body.meta.version).toBe(patched.version);
    const groupRead = await api.request('GET', new URL(group.location).pathname.replace(/^.*\/Groups/, '/Groups'));
    expect(groupRead.body.members.map((m: { value: string }) => m.value)).toEqual([userId]);

    const removed = await bulk([{ method: 'DELETE', path: `/Users/${userId}` }]);
    expect(removed.body.Operations).toEqual([{ method: 'DELETE', status: '204', location: created.location }]);
    expect((await api.request('GET', `/Users/${userId}`)).status).toBe(404);
  });

  it('fails an operation alone with the same validation as a single request, and goes on', async () => {
    const userName = name();
    const res = await bulk([
      { method: 'POST', path: '/Users', bulkId: 'a', data: user(userName) },
      { method: 'POST', path: '/Users', bulkId: 'dup', data: user(userName.toUpperCase()) },
      { method: 'POST', path: '/Users', bulkId: 'nameless', data: { schemas: [SCHEMA_USER] } },
      { method: 'GET', path: '/Users' },
      { method: 'POST', path: '/Widgets', bulkId: 'w', data: {} },
      { method: 'POST', path: '/Users', data: user(name()) },
      { method: 'PATCH', path: '/Users/no-such-id', data: { Operations: [{ op: 'replace', path: 'title', value: 'x' }] } },
      { method: 'POST', path: '/Users', bulkId: 'b', data: user(name()) },
    ]);
    const statuses = res.body.Operations.map((o: { status: string }) => o.status);
    expect(statuses).toEqual(['201', '409', '400', '400', '400', '400', '404', '201']);
    expect(res.body.Operations[1].response).toMatchObject({ schemas: [SCHEMA_ERROR], status: '409', scimType: 'uniqueness' });
    expect(res.body.Operations[2].response).toMatchObject({ status: '400', scimType: 'invalidValue' });
    expect(res.body.Operations[5].response.detail).toContain('bulkId');
    // Submitted values never come back in an error.
    expect(JSON.stringify(res.body.Operations[1].response)).not.toContain(userName.toUpperCase());
  });

  it('treats an operation\'s version as If-Match: 412 when the resource moved on, applied when it is current', async () => {
    const created = await api.request('POST', '/Users', user(name()));
    const id = created.body.id as string;
    const replace = (version: string) => ({ method: 'PATCH', path: `/Users/${id}`, version, data: { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: 'title', value: version }] } });
    const res = await bulk([replace('W/"99"'), replace(created.body.meta.version)]);
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['412', '200']);
    expect(res.body.Operations[0].response).toMatchObject({ schemas: [SCHEMA_ERROR], status: '412' });
    expect((await api.request('GET', `/Users/${id}`)).body.title).toBe(created.body.meta.version);
  });

  it('stops after failOnErrors failures and reports only what ran', async () => {
    const res = await bulk(
      [
        { method: 'POST', path: '/Users', bulkId: 'x1', data: { schemas: [SCHEMA_USER] } },
        { method: 'POST', path: '/Users', bulkId: 'x2', data: { schemas: [SCHEMA_USER] } },
        { method: 'POST', path: '/Users', bulkId: 'ok', data: user(name()) },
      ],
      { failOnErrors: 2 },
    );
    expect(res.body.Operations.map((o: { bulkId: string; status: string }) => [o.bulkId, o.status])).toEqual([
      ['x1', '400'],
      ['x2', '400'],
    ]);
  });

  it('fails circular references with 409, and references to failed or unknown bulkIds with 400', async () => {
    const res = await bulk([
      { method: 'POST', path: '/Groups', bulkId: 'a', data: { displayName: `A ${tag()}`, members: [{ value: 'bulkId:b' }] } },
      { method: 'POST', path: '/Groups', bulkId: 'b', data: { displayName: `B ${tag()}`, members: [{ value: 'bulkId:a' }] } },
      { method: 'POST', path: '/Users', bulkId: 'bad', data: { schemas: [SCHEMA_USER] } },
      { method: 'POST', path: '/Groups', bulkId: 'c', data: { displayName: `C ${tag()}`, members: [{ value: 'bulkId:bad' }] } },
      { method: 'DELETE', path: '/Users/bulkId:nowhere' },
    ]);
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['409', '409', '400', '400', '400']);
    expect(res.body.Operations[0].response.detail).toContain('circular');
  });
});

describe('delivery', () => {
  let fixture: BridgeFixture;
  beforeAll(async () => {
    fixture = await startBridgeFixture('bulk-delivery');
  });
  afterAll(() => fixture?.close());

  it('delivers bulk-created users and their group to the target like single requests', async () => {
    const logins = [name(), name()];
    const team = `Bulk team ${tag()}`;
    const res = await fixture.scim('POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [
        ...logins.map((login, i) => ({ method: 'POST', path: '/Users', bulkId: `u${i}`, data: user(login) })),
        { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [SCHEMA_GROUP], displayName: team, members: [{ value: 'bulkId:u0' }, { value: 'bulkId:u1' }] } },
      ],
    });
    expect(res.body.Operations.map((o: { status: string }) => o.status)).toEqual(['201', '201', '201']);
    const delivered = async () => {
      const accounts = ((await fixture.legacy.get('/api/v1/accounts')) as { data: Account[] }).data;
      const teams = ((await fixture.legacy.get('/api/v1/teams')) as { data: Team[] }).data;
      const ids = accounts.filter((a) => logins.includes(a.login)).map((a) => a.account_id);
      const found = teams.find((t) => t.name === team);
      return ids.length === 2 && found !== undefined && found.members.length === 2 && ids.every((id) => found.members.includes(id));
    };
    expect(await eventually(delivered)).toBe(true);
  });
});
