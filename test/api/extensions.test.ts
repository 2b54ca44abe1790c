import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiBridge, SCHEMA_PATCH, SCHEMA_USER, tag, userBody, type ApiBridge, type ScimClient } from './support.js';

/**
 * Custom schema extensions declared per connection (config `extensions:`), against a running
 * bridge on real Redis: advertised in /Schemas and /ResourceTypes, type-checked before anything
 * is stored, stored under their URN, returned, patchable and filterable. A second connection
 * without the declaration shows that declarations are per connection.
 */

const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const EXTENSIONS = [
  {
    id: ACME,
    name: 'AcmeUser',
    description: 'Acme badge data',
    attributes: [
      { name: 'badge', type: 'integer' },
      { name: 'contractor', type: 'boolean' },
      { name: 'hiredAt', type: 'dateTime' },
      { name: 'costCode', type: 'string', caseExact: true },
      { name: 'rate', type: 'decimal' },
      { name: 'skills', type: 'string', multiValued: true },
      { name: 'site', type: 'complex', subAttributes: [{ name: 'building', type: 'string' }, { name: 'floor', type: 'integer' }] },
    ],
  },
];

let bridge: ApiBridge;
let api: ScimClient;
let plain: ScimClient;

beforeAll(async () => {
  bridge = await startApiBridge('extensions', { connections: [{ id: 'acme', extra: { extensions: EXTENSIONS } }, { id: 'plain' }] });
  api = bridge.clients.acme as ScimClient;
  plain = bridge.clients.plain as ScimClient;
});
afterAll(() => bridge?.close());

const userName = () => `ext-${tag()}@example.com`;

async function create(client: ScimClient, name: string, extension: unknown) {
  return client.request('POST', '/Users', userBody(name, { [ACME]: extension }));
}

describe('discovery', () => {
  it('lists the declared extension in /Schemas with its attributes, and in /ResourceTypes/User', async () => {
    const list = await api.request('GET', '/Schemas');
    const schema = list.body.Resources.find((s: { id: string }) => s.id === ACME);
    expect(schema).toMatchObject({ name: 'AcmeUser', description: 'Acme badge data', meta: { resourceType: 'Schema' } });
    expect(schema.attributes.map((a: { name: string; type: string }) => [a.name, a.type])).toEqual([
      ['badge', 'integer'],
      ['contractor', 'boolean'],
      ['hiredAt', 'dateTime'],
      ['costCode', 'string'],
      ['rate', 'decimal'],
      ['skills', 'string'],
      ['site', 'complex'],
    ]);
    expect(schema.attributes.find((a: { name: string }) => a.name === 'site').subAttributes.map((a: { name: string }) => a.name)).toEqual(['building', 'floor']);
    expect((await api.request('GET', `/Schemas/${ACME.toLowerCase()}`)).body.id).toBe(ACME);

    const userType = (await api.request('GET', '/ResourceTypes/User')).body;
    expect(userType.schemaExtensions).toEqual([
      { schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', required: false },
      { schema: ACME, required: false },
    ]);
  });

  it('is per connection: another connection neither advertises nor keeps it', async () => {
    expect((await plain.request('GET', `/Schemas/${ACME}`)).status).toBe(404);
    const types = (await plain.request('GET', '/ResourceTypes/User')).body;
    expect(types.schemaExtensions.map((e: { schema: string }) => e.schema)).not.toContain(ACME);
  });
});

describe('stored and returned', () => {
  it('keeps declared attributes with their declared spelling, coerces "True", ignores undeclared ones and lists the URN in schemas', async () => {
    // Entra sends the extension object without adding its URN to `schemas`.
    const res = await create(api, userName(), {
      Badge: 7,
      contractor: 'True',
      hiredAt: '2024-05-01T09:00:00Z',
      costCode: 'AbC-1',
      rate: 12.5,
      skills: ['ts', 'sql'],
      site: { building: 'B2', floor: 3, wing: 'east' },
      shoeSize: 44,
    });
    expect(res.status).toBe(201);
    const expected = { badge: 7, contractor: true, hiredAt: '2024-05-01T09:00:00Z', costCode: 'AbC-1', rate: 12.5, skills: ['ts', 'sql'], site: { building: 'B2', floor: 3 } };
    expect(res.body[ACME]).toEqual(expected);
    expect(res.body.schemas).toEqual([SCHEMA_USER, ACME]);
    const read = await api.request('GET', `/Users/${res.body.id}`);
    expect(read.body[ACME]).toEqual(expected);
    expect(read.body.schemas).toEqual([SCHEMA_USER, ACME]);
  });

  it.each([
    ['badge', 'seven', 'must be an integer'],
    ['badge', 7.5, 'must be an integer'],
    ['contractor', 'maybe', 'must be a boolean'],
    ['hiredAt', 'yesterday', 'must be an xsd:dateTime'],
    ['costCode', 12, 'must be a string'],
    ['rate', '12.5', 'must be a number'],
    ['skills', 'ts', 'must be an array'],
    ['site', 'B2', 'must be an object'],
    ['site', { floor: 'third' }, 'must be an integer'],
  ])('answers 400 invalidValue for %s = %j and stores nothing', async (attribute, value, reason) => {
    const name = userName();
    const res = await create(api, name, { [attribute]: value });
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidValue');
    expect(res.body.detail).toContain(`${ACME}:${attribute}`);
    expect(res.body.detail).toContain(reason);
    // The submitted value is never echoed.
    if (typeof value === 'string') expect(res.text).not.toContain(value);
    const found = await api.request('GET', `/Users?filter=userName eq "${name}"`);
    expect(found.body.totalResults).toBe(0);
  });

  it('checks the replacement body of a PUT the same way', async () => {
    const name = userName();
    const created = await create(api, name, { badge: 1 });
    const bad = await api.request('PUT', `/Users/${created.body.id}`, userBody(name, { [ACME]: { badge: 'one' } }));
    expect(bad.status).toBe(400);
    expect((await api.request('GET', `/Users/${created.body.id}`)).body[ACME]).toEqual({ badge: 1 });
    const good = await api.request('PUT', `/Users/${created.body.id}`, userBody(name, { [ACME]: { badge: 2 } }));
    expect(good.body[ACME]).toEqual({ badge: 2 });
  });
});

describe('PATCH', () => {
  const patch = (id: string, Operations: unknown[]) => api.request('PATCH', `/Users/${id}`, { schemas: [SCHEMA_PATCH], Operations });

  it('adds, replaces and removes extension attributes by URN path and path-less URN keys', async () => {
    const created = await create(api, userName(), { badge: 1 });
    const id = created.body.id as string;
    expect((await patch(id, [{ op: 'Add', path: `${ACME}:contractor`, value: 'False' }])).body[ACME]).toEqual({ badge: 1, contractor: false });
    expect((await patch(id, [{ op: 'replace', value: { [`${ACME}:badge`]: 2, [`${ACME}:site.floor`]: 4 } }])).body[ACME]).toEqual({
      badge: 2,
      contractor: false,
      site: { floor: 4 },
    });
    expect((await patch(id, [{ op: 'add', path: `${ACME}:skills`, value: ['go'] }])).body[ACME].skills).toEqual(['go']);
    const removed = await patch(id, [
      { op: 'remove', path: `${ACME}:badge` },
      { op: 'remove', path: `${ACME}:contractor` },
      { op: 'remove', path: `${ACME}:site` },
      { op: 'remove', path: `${ACME}:skills` },
    ]);
    expect(removed.body[ACME]).toBeUndefined();
    expect(removed.body.schemas).toEqual([SCHEMA_USER]);
  });

  it('rejects a wrongly typed PATCH value with 400 invalidValue and leaves the user unchanged', async () => {
    const created = await create(api, userName(), { badge: 1 });
    const res = await patch(created.body.id, [{ op: 'replace', path: `${ACME}:badge`, value: 'two' }]);
    expect(res.status).toBe(400);
    expect(res.body.scimType).toBe('invalidValue');
    const read = await api.request('GET', `/Users/${created.body.id}`);
    expect(read.body[ACME]).toEqual({ badge: 1 });
    expect(read.body.meta.version).toBe(created.body.meta.version);
  });
});

describe('filters', () => {
  it('finds users by integer, boolean and caseExact string extension attributes', async () => {
    const badge = 1000 + Math.floor(Math.random() * 1_000_000);
    const a = await create(api, userName(), { badge, contractor: true, costCode: `Code-${badge}` });
    await create(api, userName(), { badge: badge + 1, contractor: false });
    const ids = async (filter: string) =>
      (await api.request('GET', `/Users?filter=${encodeURIComponent(filter)}`)).body.Resources.map((r: { id: string }) => r.id);
    expect(await ids(`${ACME}:badge eq ${badge}`)).toEqual([a.body.id]);
    expect(await ids(`${ACME}:badge eq ${badge} and ${ACME}:contractor eq true`)).toEqual([a.body.id]);
    expect(await ids(`${ACME}:costCode eq "Code-${badge}"`)).toEqual([a.body.id]);
    // costCode is declared caseExact: a different case does not match.
    expect(await ids(`${ACME}:costCode eq "code-${badge}"`)).toEqual([]);
  });
});
