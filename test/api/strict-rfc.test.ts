import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ENTERPRISE,
  groupBody,
  SCHEMA_ERROR,
  SCHEMA_PATCH,
  SCHEMA_USER,
  startApiBridge,
  tag,
  userBody,
  type ApiBridge,
  type ScimClient,
  type ScimResponse,
} from './support.js';

/**
 * What strict RFC 7643/7644 suites check beyond Entra's own traffic, over real HTTP on real
 * Redis: PATCH on a whole extension URN, group members' display and type, lastModified on
 * membership changes, attributes no schema defines, empty multi-valued attributes, ETags with
 * If-Match / If-None-Match, and 405 on the read-only discovery endpoints.
 */

let b: ApiBridge;
let api: ScimClient;

beforeAll(async () => {
  b = await startApiBridge('api-strict', { connections: [{ id: 'acme' }] });
  api = b.clients.acme!;
});
afterAll(async () => {
  await b?.close();
});

async function createUser(extra: Record<string, unknown> = {}): Promise<Record<string, unknown> & { id: string }> {
  const res = await api.request('POST', '/Users', userBody(`strict-${tag()}-${tag()}@example.com`, extra));
  expect(res.status, res.text).toBe(201);
  return res.body;
}

async function createGroup(extra: Record<string, unknown> = {}): Promise<ScimResponse> {
  const res = await api.request('POST', '/Groups', groupBody(`Strict ${tag()}-${tag()}`, extra));
  expect(res.status, res.text).toBe(201);
  return res;
}

function patch(path: string, operations: Record<string, unknown>[], headers: Record<string, string> = {}) {
  return api.request('PATCH', path, { schemas: [SCHEMA_PATCH], Operations: operations }, headers);
}

/** Lets the clock pass a millisecond, so a later write gets a later timestamp. */
async function nextMillisecond(after: string): Promise<void> {
  for (let i = 0; i < 100 && Date.now() <= Date.parse(after); i++) await new Promise((resolve) => setTimeout(resolve, 2));
}

describe('PATCH with a whole extension schema URN as path', () => {
  it('add merges into the extension, replace merges too, remove deletes it; never an invented key', async () => {
    const user = await createUser({ [ENTERPRISE]: { employeeNumber: '42' } });
    const added = await patch(`/Users/${user.id}`, [{ op: 'add', path: ENTERPRISE, value: { department: 'Sales' } }]);
    expect(added.status, added.text).toBe(200);
    expect(added.body[ENTERPRISE]).toEqual({ employeeNumber: '42', department: 'Sales' });
    expect(Object.keys(added.body).filter((key) => key.startsWith('urn:'))).toEqual([ENTERPRISE]);

    const replaced = await patch(`/Users/${user.id}`, [{ op: 'Replace', path: ENTERPRISE, value: { department: 'Support', manager: 'm-1' } }]);
    expect(replaced.body[ENTERPRISE]).toEqual({ employeeNumber: '42', department: 'Support', manager: { value: 'm-1' } });
    expect(Object.keys(replaced.body).filter((key) => key.startsWith('urn:'))).toEqual([ENTERPRISE]);

    const removed = await patch(`/Users/${user.id}`, [{ op: 'remove', path: ENTERPRISE }]);
    expect(removed.status).toBe(200);
    expect(removed.body).not.toHaveProperty(ENTERPRISE);
    expect(removed.body.schemas).toEqual([SCHEMA_USER]);
    const read = await api.request('GET', `/Users/${user.id}`);
    expect(Object.keys(read.body).filter((key) => key.startsWith('urn:'))).toEqual([]);
  });

  it('answers an add on the extension URN with a non-object value with 400 invalidValue', async () => {
    const user = await createUser();
    const res = await patch(`/Users/${user.id}`, [{ op: 'add', path: ENTERPRISE, value: 'Sales' }]);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], scimType: 'invalidValue' });
  });
});

describe('group members', () => {
  it('stores and returns display and type on POST, PUT and PATCH; a nested group is typed Group', async () => {
    const [ada, bob] = [await createUser(), await createUser()];
    const child = (await createGroup()).body;
    const created = await createGroup({ members: [{ value: ada.id, display: 'Ada', type: 'User' }, { value: child.id }] });
    const byValue = (members: { value: string }[]) => Object.fromEntries(members.map((m) => [m.value, m]));
    expect(byValue(created.body.members)).toEqual({
      [ada.id]: { value: ada.id, display: 'Ada', type: 'User', $ref: `${api.url}/Users/${ada.id}` },
      [child.id]: { value: child.id, type: 'Group', $ref: `${api.url}/Groups/${child.id}` },
    });

    const patched = await patch(`/Groups/${created.body.id}`, [{ op: 'add', path: 'members', value: [{ value: bob.id, display: 'Bob' }] }]);
    expect(patched.status).toBe(204);
    const afterPatch = await api.request('GET', `/Groups/${created.body.id}`);
    expect(byValue(afterPatch.body.members)[bob.id]).toEqual({ value: bob.id, display: 'Bob', type: 'User', $ref: `${api.url}/Users/${bob.id}` });
    expect(byValue(afterPatch.body.members)[ada.id]).toMatchObject({ display: 'Ada' });

    const put = await api.request('PUT', `/Groups/${created.body.id}`, {
      ...groupBody(created.body.displayName),
      members: [{ value: ada.id, display: 'Ada Lovelace' }, { value: bob.id }],
    });
    expect(put.status, put.text).toBe(200);
    expect(byValue(put.body.members)).toEqual({
      [ada.id]: { value: ada.id, display: 'Ada Lovelace', type: 'User', $ref: `${api.url}/Users/${ada.id}` },
      [bob.id]: { value: bob.id, type: 'User', $ref: `${api.url}/Users/${bob.id}` },
    });
  });

  it('moves meta.lastModified (and meta.version) on a membership-only PATCH', async () => {
    const user = await createUser();
    const group = await createGroup();
    await nextMillisecond(group.body.meta.lastModified);
    expect((await patch(`/Groups/${group.body.id}`, [{ op: 'add', path: 'members', value: [{ value: user.id }] }])).status).toBe(204);
    const read = await api.request('GET', `/Groups/${group.body.id}`);
    expect(Date.parse(read.body.meta.lastModified)).toBeGreaterThan(Date.parse(group.body.meta.lastModified));
    expect(read.body.meta.created).toBe(group.body.meta.created);
    expect(read.body.meta.version).not.toBe(group.body.meta.version);
  });

  it('returns a group without members without a members attribute, not []', async () => {
    const group = await createGroup({ members: [] });
    expect(group.body).not.toHaveProperty('members');
    expect((await api.request('GET', `/Groups/${group.body.id}`)).body).not.toHaveProperty('members');
  });
});

describe('attributes no schema defines (RFC 7643 §3)', () => {
  it('ignores them on POST, PUT and PATCH: not stored, not returned, never a 400', async () => {
    const user = await createUser({ adreses: [{ street: 'Main St' }], name: { givenName: 'A', middle: 'x' } });
    expect(user).not.toHaveProperty('adreses');
    expect(user.name).toEqual({ givenName: 'A' });
    const put = await api.request('PUT', `/Users/${user.id}`, userBody(String(user.userName), { adreses: [{ street: 'Elm St' }] }));
    expect(put.status, put.text).toBe(200);
    expect(put.body).not.toHaveProperty('adreses');
    const patched = await patch(`/Users/${user.id}`, [
      { op: 'add', path: 'adreses', value: [{ street: 'x' }] },
      { op: 'replace', value: { favouriteColour: 'blue', title: 'Boss' } },
      { op: 'replace', path: 'urn:ietf:params:scim:schemas:extension:Undeclared:2.0:User:badge', value: '7' },
    ]);
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.title).toBe('Boss');
    const read = await api.request('GET', `/Users/${user.id}`);
    expect(Object.keys(read.body).sort()).toEqual(['active', 'emails', 'id', 'meta', 'name', 'schemas', 'title', 'userName']);
  });
});

describe('empty multi-valued attributes', () => {
  it('returns them absent, not []', async () => {
    const user = await createUser({ roles: [], phoneNumbers: [] });
    expect(user).not.toHaveProperty('roles');
    expect(user).not.toHaveProperty('phoneNumbers');
    const patched = await patch(`/Users/${user.id}`, [{ op: 'remove', path: 'emails[type eq "work"]' }]);
    expect(patched.status).toBe(200);
    expect(patched.body).not.toHaveProperty('emails');
    const replaced = await patch(`/Users/${user.id}`, [{ op: 'replace', path: 'roles', value: [] }]);
    expect(replaced.body).not.toHaveProperty('roles');
  });
});

describe('ETags (RFC 7644 §3.14)', () => {
  it('sends meta.version as the ETag header on POST, GET, PUT and PATCH, for users and groups', async () => {
    const created = await api.request('POST', '/Users', userBody(`etag-${tag()}@example.com`));
    expect(created.headers.get('etag')).toBe(created.body.meta.version);
    expect(created.body.meta.version).toMatch(/^W\/"\d+"$/);
    const read = await api.request('GET', `/Users/${created.body.id}`);
    expect(read.headers.get('etag')).toBe(read.body.meta.version);
    const put = await api.request('PUT', `/Users/${created.body.id}`, userBody(created.body.userName, { title: 'x' }));
    expect(put.headers.get('etag')).toBe(put.body.meta.version);
    const patched = await patch(`/Users/${created.body.id}`, [{ op: 'replace', path: 'title', value: 'y' }]);
    expect(patched.headers.get('etag')).toBe(patched.body.meta.version);
    const group = await createGroup();
    expect(group.headers.get('etag')).toBe(group.body.meta.version);
    const groupPatch = await patch(`/Groups/${group.body.id}`, [{ op: 'replace', path: 'externalId', value: 'e' }]);
    expect(groupPatch.status).toBe(204);
    expect(groupPatch.headers.get('etag')).toBe((await api.request('GET', `/Groups/${group.body.id}`)).body.meta.version);
  });

  it('answers 412 when If-Match names an older version on PUT, PATCH and DELETE, and applies the write when it matches', async () => {
    const user = await createUser();
    const stale = String((user.meta as { version: string }).version);
    const current = (await patch(`/Users/${user.id}`, [{ op: 'replace', path: 'title', value: 'v2' }])).body.meta.version as string;

    for (const res of [
      await api.request('PUT', `/Users/${user.id}`, userBody(String(user.userName), { title: 'lost' }), { 'if-match': stale }),
      await patch(`/Users/${user.id}`, [{ op: 'replace', path: 'title', value: 'lost' }], { 'if-match': stale }),
      await api.request('DELETE', `/Users/${user.id}`, undefined, { 'if-match': stale }),
    ]) {
      expect(res.status, res.text).toBe(412);
      expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], status: '412' });
      expect(res.body).not.toHaveProperty('scimType');
    }
    expect((await api.request('GET', `/Users/${user.id}`)).body.title).toBe('v2');

    const matched = await patch(`/Users/${user.id}`, [{ op: 'replace', path: 'title', value: 'v3' }], { 'if-match': current });
    expect(matched.status, matched.text).toBe(200);
    const strongForm = matched.body.meta.version.replace(/^W\//, '');
    const put = await api.request('PUT', `/Users/${user.id}`, userBody(String(user.userName), { title: 'v4' }), { 'if-match': `"nope", ${strongForm}` });
    expect(put.status, put.text).toBe(200);
    expect((await api.request('DELETE', `/Users/${user.id}`, undefined, { 'if-match': put.body.meta.version })).status).toBe(204);
  });

  it('allows If-Match: * on an existing resource and checks If-Match on membership-only group PATCHes', async () => {
    const user = await createUser();
    expect((await patch(`/Users/${user.id}`, [{ op: 'replace', path: 'title', value: 'x' }], { 'if-match': '*' })).status).toBe(200);
    const group = await createGroup();
    const stale = await patch(`/Groups/${group.body.id}`, [{ op: 'add', path: 'members', value: [{ value: user.id }] }], { 'if-match': 'W/"999"' });
    expect(stale.status).toBe(412);
    const fresh = await patch(`/Groups/${group.body.id}`, [{ op: 'add', path: 'members', value: [{ value: user.id }] }], { 'if-match': group.body.meta.version });
    expect(fresh.status).toBe(204);
    expect((await api.request('DELETE', `/Groups/${group.body.id}`, undefined, { 'if-match': '*' })).status).toBe(204);
  });

  it('answers GET with If-None-Match naming the current version with 304 and no body', async () => {
    const user = await createUser();
    const version = String((user.meta as { version: string }).version);
    const notModified = await api.request('GET', `/Users/${user.id}`, undefined, { 'if-none-match': version });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.get('etag')).toBe(version);
    expect((await api.request('GET', `/Users/${user.id}`, undefined, { 'if-none-match': 'W/"999"' })).status).toBe(200);
  });
});

describe('read-only discovery endpoints', () => {
  it.each(['/ServiceProviderConfig', '/ResourceTypes', '/ResourceTypes/User', '/Schemas', `/Schemas/${SCHEMA_USER}`])(
    'answers POST, PUT, PATCH and DELETE on %s with 405, Allow: GET and a SCIM error',
    async (path) => {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await api.request(method, path, method === 'DELETE' ? undefined : {});
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET');
        expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
        expect(res.body).toMatchObject({ schemas: [SCHEMA_ERROR], status: '405' });
      }
    },
  );

  it('advertises ETag support', async () => {
    expect((await api.request('GET', '/ServiceProviderConfig')).body.etag).toEqual({ supported: true });
  });
});
