import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENTERPRISE,
  groupBody,
  SCHEMA_PATCH,
  SCHEMA_USER,
  startApiBridge,
  tag,
  userBody,
  type ApiBridge,
  type ScimClient,
} from './support.js';

/**
 * Users and Groups resources over real HTTP: create, read, replace, delete, values kept
 * exactly as sent, pagination, projection, the filters Entra sends, unknown query
 * parameters, and the discovery endpoints.
 */

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ROLE_JSON = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}';

let b: ApiBridge;
let api: ScimClient;
/** A connection of its own, holding exactly the seven users of the pagination tests. */
let paging: ScimClient;

beforeAll(async () => {
  b = await startApiBridge('api-resources', { connections: [{ id: 'acme' }, { id: 'paging' }] });
  api = b.clients.acme!;
  paging = b.clients.paging!;
});
afterAll(async () => {
  await b?.close();
});

const q = (filter: string) => encodeURIComponent(filter);

async function createUser(client: ScimClient, extra: Record<string, unknown> = {}, userName = `u-${tag()}@example.com`) {
  const res = await client.request('POST', '/Users', userBody(userName, extra));
  expect(res.status, res.text).toBe(201);
  return res.body as { id: string; userName: string } & Record<string, unknown>;
}

describe('create, read, replace, delete', () => {
  it('answers POST with 201, Location, ETag and meta', async () => {
    const userName = `create-${tag()}@example.com`;
    const res = await api.request('POST', '/Users', userBody(userName, { externalId: `ext-${tag()}` }));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    const { id, meta } = res.body;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('location')).toBe(`${api.url}/Users/${id}`);
    expect(meta).toMatchObject({ resourceType: 'User', location: `${api.url}/Users/${id}`, version: expect.stringMatching(/^W\/".+"$/) });
    expect(res.headers.get('etag')).toBe(meta.version);
    expect(Date.parse(meta.created)).not.toBeNaN();
    expect(meta.lastModified).toBe(meta.created);
    expect(res.body).toMatchObject({ schemas: [SCHEMA_USER], userName, active: true });
  });

  it('ignores a client-supplied id and meta', async () => {
    const res = await api.request('POST', '/Users', userBody(`ids-${tag()}@example.com`, { id: 'chosen-by-client', meta: { resourceType: 'User', created: '2000-01-01T00:00:00Z' } }));
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe('chosen-by-client');
    expect(res.body.meta.created).not.toBe('2000-01-01T00:00:00Z');
  });

  it('answers GET by id with the resource and its ETag', async () => {
    const created = await createUser(api);
    const res = await api.request('GET', `/Users/${created.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(res.body.meta.version);
    expect(res.body).toEqual(created);
  });

  it('returns values exactly as sent', async () => {
    const sent = {
      displayName: 'Ada  Lovelace ',
      phoneNumbers: [{ type: 'work', value: '55555555555' }],
      roles: [{ primary: true, type: 'WindowsAzureActiveDirectoryRole', value: ROLE_JSON }],
      [ENTERPRISE]: { employeeNumber: '000123', department: 'R&D' },
      nickName: 'ÅDA 🚀',
    };
    const created = await createUser(api, { ...sent, schemas: [SCHEMA_USER, ENTERPRISE] });
    const read = (await api.request('GET', `/Users/${created.id}`)).body;
    for (const doc of [created, read]) {
      expect(doc).toMatchObject(sent);
      expect(doc.schemas).toEqual([SCHEMA_USER, ENTERPRISE]);
    }
  });

  it('replaces a user on PUT and keeps id and created', async () => {
    const created = await createUser(api, { title: 'Engineer', nickName: 'Ada' });
    const newName = `replaced-${tag()}@example.com`;
    const res = await api.request('PUT', `/Users/${created.id}`, userBody(newName, { title: 'Manager', id: 'other', meta: { created: '2000-01-01T00:00:00Z' } }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: created.id, userName: newName, title: 'Manager' });
    expect(res.body.nickName).toBeUndefined();
    expect(res.body.meta.created).toBe((created.meta as { created: string }).created);
    expect(res.body.meta.version).not.toBe((created.meta as { version: string }).version);
    expect(res.headers.get('etag')).toBe(res.body.meta.version);
    const read = await api.request('GET', `/Users/${created.id}`);
    expect(read.body).toEqual(res.body);
    const byOldName = await api.request('GET', `/Users?filter=${q(`userName eq "${created.userName}"`)}`);
    expect(byOldName.body.totalResults).toBe(0);
  });

  it('answers DELETE with 204, then 404 for the id', async () => {
    const created = await createUser(api);
    const del = await api.request('DELETE', `/Users/${created.id}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect((await api.request('GET', `/Users/${created.id}`)).status).toBe(404);
    expect((await api.request('DELETE', `/Users/${created.id}`)).status).toBe(404);
    expect((await api.request('GET', `/Users?filter=${q(`userName eq "${created.userName}"`)}`)).body.totalResults).toBe(0);
    expect((await api.request('POST', '/Users', userBody(created.userName))).status).toBe(201);
  });

  it('keeps a soft-deleted user (active false) readable by id and by filter', async () => {
    const created = await createUser(api);
    const patch = await api.request('PATCH', `/Users/${created.id}`, {
      schemas: [SCHEMA_PATCH],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(patch.status).toBe(200);
    expect(patch.body.active).toBe(false);
    expect((await api.request('GET', `/Users/${created.id}`)).body).toMatchObject({ id: created.id, active: false });
    const found = await api.request('GET', `/Users?filter=${q(`userName eq "${created.userName}"`)}`);
    expect(found.body.totalResults).toBe(1);
    expect(found.body.Resources[0]).toMatchObject({ id: created.id, active: false });
  });
});

describe('listing', () => {
  let ids: string[];

  beforeAll(async () => {
    ids = [];
    for (let i = 1; i <= 7; i++) ids.push((await createUser(paging, {}, `page-${i}-${tag()}@example.com`)).id);
  });

  it('pages through seven users three at a time', async () => {
    const seen: string[] = [];
    for (const startIndex of [1, 4, 7]) {
      const res = await paging.request('GET', `/Users?startIndex=${startIndex}&count=3`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ schemas: [LIST_RESPONSE], totalResults: 7, startIndex });
      expect(res.body.itemsPerPage).toBe(res.body.Resources.length);
      expect(res.body.Resources.length).toBe(startIndex === 7 ? 1 : 3);
      seen.push(...res.body.Resources.map((r: { id: string }) => r.id));
    }
    expect(new Set(seen).size).toBe(7);
    expect([...seen].sort()).toEqual([...ids].sort());
  });

  it('answers count=0 with the total and no resources', async () => {
    const res = await paging.request('GET', '/Users?count=0');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
  });

  it('answers a startIndex past the end with an empty page', async () => {
    const res = await paging.request('GET', '/Users?startIndex=20&count=3');
    expect(res.body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
  });

  it('treats startIndex below 1 as 1 (RFC 7644 §3.4.2.4)', async () => {
    const res = await paging.request('GET', '/Users?startIndex=0&count=2');
    expect(res.body).toMatchObject({ totalResults: 7, startIndex: 1, itemsPerPage: 2 });
  });

  it('pages a filtered result too', async () => {
    const filter = q('userName sw "page-"');
    const first = await paging.request('GET', `/Users?filter=${filter}&startIndex=1&count=4`);
    const second = await paging.request('GET', `/Users?filter=${filter}&startIndex=5&count=4`);
    expect([first.body.totalResults, second.body.totalResults]).toEqual([7, 7]);
    const all = [...first.body.Resources, ...second.body.Resources].map((r: { id: string }) => r.id);
    expect(new Set(all).size).toBe(7);
  });
});

describe('projection', () => {
  it('answers attributes=userName with id, schemas and userName only', async () => {
    const created = await createUser(api, { title: 'Engineer' });
    for (const path of [`/Users/${created.id}?attributes=userName`, `/Users?filter=${q(`userName eq "${created.userName}"`)}&attributes=userName`]) {
      const res = await api.request('GET', path);
      const doc = res.body.Resources?.[0] ?? res.body;
      expect(doc.id).toBe(created.id);
      expect(doc.userName).toBe(created.userName);
      expect(doc.emails).toBeUndefined();
      expect(doc.title).toBeUndefined();
      expect(doc.name).toBeUndefined();
    }
  });

  it('answers excludedAttributes=emails without emails and with the rest', async () => {
    const created = await createUser(api, { title: 'Engineer' });
    const res = await api.request('GET', `/Users/${created.id}?excludedAttributes=emails`);
    expect(res.body.emails).toBeUndefined();
    expect(res.body).toMatchObject({ id: created.id, userName: created.userName, title: 'Engineer' });
  });

  it('applies the projection to the POST answer as well', async () => {
    const res = await api.request('POST', '/Users?attributes=userName', userBody(`proj-${tag()}@example.com`));
    expect(res.status).toBe(201);
    expect(res.body.emails).toBeUndefined();
    expect(res.body.id).toEqual(expect.any(String));
  });
});

describe('filters', () => {
  let user: { id: string; userName: string };
  let externalId: string;
  let workEmail: string;
  let homeEmail: string;

  beforeAll(async () => {
    externalId = `Ext-${tag()}`;
    workEmail = `work-${tag()}@example.com`;
    homeEmail = `home-${tag()}@example.net`;
    user = await createUser(api, {
      externalId,
      emails: [
        { type: 'work', value: workEmail, primary: true },
        { type: 'home', value: homeEmail },
      ],
    });
  });

  const ids = async (path: string) => {
    const res = await api.request('GET', path);
    expect(res.status, res.text).toBe(200);
    expect(res.body.totalResults).toBe(res.body.Resources.length);
    return res.body.Resources.map((r: { id: string }) => r.id) as string[];
  };

  it('finds by userName in any case', async () => {
    expect(await ids(`/Users?filter=${q(`userName eq "${user.userName}"`)}`)).toEqual([user.id]);
    expect(await ids(`/Users?filter=${q(`userName eq "${user.userName.toUpperCase()}"`)}`)).toEqual([user.id]);
    expect(await ids(`/Users?filter=${q(`USERNAME Eq "${user.userName}"`)}`)).toEqual([user.id]);
  });

  it('finds by externalId, case-exact', async () => {
    expect(await ids(`/Users?filter=${q(`externalId eq "${externalId}"`)}`)).toEqual([user.id]);
    expect(await ids(`/Users?filter=${q(`externalId eq "${externalId.toLowerCase()}"`)}`)).toEqual([]);
  });

  it('finds by emails[type eq "work"].value and not by the home address under type work', async () => {
    expect(await ids(`/Users?filter=${q(`emails[type eq "work"].value eq "${workEmail}"`)}`)).toEqual([user.id]);
    expect(await ids(`/Users?filter=${q(`emails[type eq "work"].value eq "${homeEmail}"`)}`)).toEqual([]);
    expect(await ids(`/Users?filter=${q(`emails[type eq "home"].value eq "${homeEmail.toUpperCase()}"`)}`)).toEqual([user.id]);
  });

  it('finds by emails.value, any of them', async () => {
    expect(await ids(`/Users?filter=${q(`emails.value eq "${workEmail}"`)}`)).toEqual([user.id]);
    expect(await ids(`/Users?filter=${q(`emails.value eq "${homeEmail}"`)}`)).toEqual([user.id]);
    expect(await ids(`/Users?filter=${q('emails.value eq "nobody@example.com"')}`)).toEqual([]);
    // Its userName is not one of its emails: not found by it (the email lookup also asks the userName index).
    expect(await ids(`/Users?filter=${q(`emails.value eq "${user.userName}"`)}`)).toEqual([]);
  });

  it('finds a user by an email equal to its userName (stored only as the userName)', async () => {
    const name = `same-${tag()}@example.com`;
    const same = await createUser(api, { emails: [{ type: 'work', value: name, primary: true }] }, name);
    expect(await ids(`/Users?filter=${q(`emails.value eq "${name.toUpperCase()}"`)}`)).toEqual([same.id]);
    expect(await ids(`/Users?filter=${q(`emails[type eq "work"].value eq "${name}"`)}`)).toEqual([same.id]);
  });

  it('answers a miss with an empty ListResponse', async () => {
    const res = await api.request('GET', `/Users?filter=${q('userName eq "3e59e27b-68ad-41f5-bb0e-dadf130e2ac8"')}`);
    expect(res.body).toEqual({ schemas: [LIST_RESPONSE], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  });

  it('finds groups by displayName, and a membership by id and members', async () => {
    const name = `Filter Team ${tag()}`;
    const group = await api.request('POST', '/Groups', groupBody(name, { members: [{ value: user.id }] }));
    expect(group.status, group.text).toBe(201);
    const gid = group.body.id as string;
    const other = await createUser(api);

    const byName = await api.request('GET', `/Groups?excludedAttributes=members&filter=${q(`displayName eq "${name.toUpperCase()}"`)}`);
    expect(byName.body.totalResults).toBe(1);
    expect(byName.body.Resources[0]).toMatchObject({ id: gid, displayName: name });
    expect(byName.body.Resources[0].members).toBeUndefined();

    for (const form of ['members eq "{m}"', 'members[value eq "{m}"]']) {
      const hit = await api.request('GET', `/Groups?filter=${q(`id eq "${gid}" and ${form.replace('{m}', user.id)}`)}&attributes=id`);
      expect(hit.body.totalResults).toBe(1);
      expect(hit.body.Resources[0].id).toBe(gid);
      expect(hit.body.Resources[0].members).toBeUndefined();
      expect(hit.body.Resources[0].displayName).toBeUndefined();
      const miss = await api.request('GET', `/Groups?filter=${q(`id eq "${gid}" and ${form.replace('{m}', other.id)}`)}&attributes=id`);
      expect(miss.body.totalResults).toBe(0);
    }
  });
});

describe('unknown query parameters', () => {
  it('ignores them on every route', async () => {
    const created = await createUser(api);
    const group = (await api.request('POST', '/Groups?aadOptscim062020&foo=bar', groupBody(`Q ${tag()}`))).body;
    expect(group.id).toEqual(expect.any(String));
    const extras = ['aadOptscim062020', 'foo=bar', 'aadOptscim062020&foo=bar&foo=baz'];
    for (const extra of extras) {
      expect((await api.request('GET', `/Users?${extra}`)).status).toBe(200);
      expect((await api.request('GET', `/Users?filter=${q(`userName eq "${created.userName}"`)}&${extra}`)).body.totalResults).toBe(1);
      expect((await api.request('GET', `/Users/${created.id}?${extra}`)).status).toBe(200);
      expect((await api.request('GET', `/Groups/${group.id}?${extra}`)).status).toBe(200);
      expect((await api.request('PATCH', `/Users/${created.id}?${extra}`, { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: 'title', value: extra }] })).status).toBe(200);
      expect((await api.request('PATCH', `/Groups/${group.id}?${extra}`, { schemas: [SCHEMA_PATCH], Operations: [{ op: 'replace', path: 'externalId', value: extra }] })).status).toBe(204);
      expect((await api.request('PUT', `/Users/${created.id}?${extra}`, userBody(created.userName))).status).toBe(200);
      for (const path of ['/ServiceProviderConfig', '/Schemas', '/ResourceTypes', '/ResourceTypes/User', `/Schemas/${SCHEMA_USER}`]) {
        expect((await api.request('GET', `${path}?${extra}`)).status).toBe(200);
      }
    }
    const post = await api.request('POST', '/Users?aadOptscim062020&foo=bar', userBody(`q-${tag()}@example.com`));
    expect(post.status).toBe(201);
    expect((await api.request('DELETE', `/Users/${post.body.id}?aadOptscim062020&foo=bar`)).status).toBe(204);
  });
});

describe('discovery', () => {
  it('serves ServiceProviderConfig', async () => {
    const res = await api.request('GET', '/ServiceProviderConfig');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    expect(res.body).toMatchObject({
      patch: { supported: true },
      bulk: { supported: true, maxOperations: 1000 },
      filter: { supported: true, maxResults: expect.any(Number) },
      authenticationSchemes: expect.arrayContaining([expect.objectContaining({ type: 'oauthbearertoken' })]),
    });
  });

  it('serves the Schemas list and each schema by URN', async () => {
    const res = await api.request('GET', '/Schemas');
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([LIST_RESPONSE]);
    expect(res.body.totalResults).toBe(res.body.Resources.length);
    const ids = res.body.Resources.map((s: { id: string }) => s.id) as string[];
    expect(ids).toEqual(expect.arrayContaining([SCHEMA_USER, ENTERPRISE, 'urn:ietf:params:scim:schemas:core:2.0:Group']));
    for (const id of ids) {
      const one = await api.request('GET', `/Schemas/${id}`);
      expect(one.status).toBe(200);
      expect(one.body).toMatchObject({ id, attributes: expect.any(Array), meta: { resourceType: 'Schema' } });
    }
    const user = (await api.request('GET', `/Schemas/${SCHEMA_USER}`)).body;
    expect(user.attributes.find((a: { name: string }) => a.name === 'userName')).toMatchObject({ uniqueness: 'server', required: true });
  });

  it('serves ResourceTypes and ResourceTypes/User', async () => {
    const res = await api.request('GET', '/ResourceTypes');
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual([LIST_RESPONSE]);
    expect(res.body.Resources.map((r: { name: string }) => r.name).sort()).toEqual(['Group', 'User']);
    const user = await api.request('GET', '/ResourceTypes/User');
    expect(user.status).toBe(200);
    expect(user.body).toMatchObject({
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      schema: SCHEMA_USER,
      schemaExtensions: expect.arrayContaining([expect.objectContaining({ schema: ENTERPRISE })]),
    });
  });
});
