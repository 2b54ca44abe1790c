import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_SCHEMA, patch, settle, startExampleBridge, USER_SCHEMA, type ExampleBridge } from './bridge-run.js';
import { idMaker, startFakeTarget, type FakeTarget } from './fake-target.js';

/**
 * mappings/examples/sales-enablement.yaml (kind 1: users + groups, objectId → externalId) against
 * a small fake of such an app, driven with Entra's traffic through a running bridge.
 */

interface User { id: string; externalId: string; email: string; firstName: string | null; lastName: string | null; title: string | null; enabled: boolean }
interface Group { id: string; externalId: string; name: string; members: string[] }

const TOKEN = 'sales-token-0123456789';
const users = new Map<string, User>();
const groups = new Map<string, Group>();
const userId = idMaker('u');
const groupId = idMaker('g');
let target: FakeTarget;
let bridge: ExampleBridge;

const userFields = (body: unknown) => {
  const { externalId, email, firstName, lastName, title, enabled, ...rest } = body as User;
  if (Object.keys(rest).length > 0) throw new Error(`unknown keys ${Object.keys(rest).join(',')}`);
  return { externalId, email, firstName, lastName, title, enabled };
};

beforeAll(async () => {
  target = await startFakeTarget(
    [
      { method: 'GET', path: /^\/api\/users$/, handle: (r) => ({ status: 200, body: { users: [...users.values()].filter((u) => u.externalId === r.query.get('externalId')) } }) },
      {
        method: 'POST',
        path: /^\/api\/users$/,
        handle: (r) => {
          const user = { id: userId(), ...userFields(r.body) };
          users.set(user.id, user);
          return { status: 201, body: { user } };
        },
      },
      { method: 'PUT', path: /^\/api\/users\/([^/]+)$/, handle: (r, [id]) => (users.has(id!) ? (users.set(id!, { id: id!, ...userFields(r.body) }), { status: 200, body: {} }) : { status: 404 }) },
      { method: 'DELETE', path: /^\/api\/users\/([^/]+)$/, handle: (_r, [id]) => ({ status: users.delete(id!) ? 204 : 404 }) },
      { method: 'GET', path: /^\/api\/groups$/, handle: (r) => ({ status: 200, body: { groups: [...groups.values()].filter((g) => g.externalId === r.query.get('externalId')) } }) },
      {
        method: 'POST',
        path: /^\/api\/groups$/,
        handle: (r) => {
          const { externalId, name } = r.body as Group;
          const group = { id: groupId(), externalId, name, members: [] };
          groups.set(group.id, group);
          return { status: 201, body: { group } };
        },
      },
      {
        method: 'PUT',
        path: /^\/api\/groups\/([^/]+)$/,
        handle: (r, [id]) => {
          const group = groups.get(id!);
          if (!group) return { status: 404 };
          Object.assign(group, { externalId: (r.body as Group).externalId, name: (r.body as Group).name });
          return { status: 200 };
        },
      },
      { method: 'DELETE', path: /^\/api\/groups\/([^/]+)$/, handle: (_r, [id]) => ({ status: groups.delete(id!) ? 204 : 404 }) },
      {
        method: 'POST',
        path: /^\/api\/groups\/([^/]+)\/members$/,
        handle: (r, [id]) => {
          const group = groups.get(id!);
          const member = (r.body as { userId: string }).userId;
          if (!group || !users.has(member)) return { status: 404 };
          if (!group.members.includes(member)) group.members.push(member);
          return { status: 204 };
        },
      },
      {
        method: 'DELETE',
        path: /^\/api\/groups\/([^/]+)\/members\/([^/]+)$/,
        handle: (_r, [id, member]) => {
          const group = groups.get(id!);
          if (!group?.members.includes(member!)) return { status: 404 };
          group.members = group.members.filter((m) => m !== member);
          return { status: 204 };
        },
      },
    ],
    (r) => r.headers.authorization === `Bearer ${TOKEN}`,
  );
  bridge = await startExampleBridge('sales-enablement', { baseUrl: target.url, auth: { type: 'bearer', token: TOKEN } });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

const ok = (res: { status: number }) => res.status >= 200 && res.status < 300;

const view = () => ({
  users: [...users.values()].map(({ id: _id, ...u }) => u).sort((a, b) => a.email.localeCompare(b.email)),
  groups: [...groups.values()].map((g) => ({ externalId: g.externalId, name: g.name, members: g.members.map((m) => users.get(m)?.email).sort() })),
});

describe('example: sales enablement (users + groups, objectId → externalId)', () => {
  it('ends holding exactly what Entra provisioned', async () => {
    // An account that already exists in the app with Entra's objectId is linked, not duplicated.
    users.set('u-legacy', { id: 'u-legacy', externalId: 'oid-2', email: 'old@contoso.example', firstName: null, lastName: null, title: null, enabled: false });
    const adele = await bridge.scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      externalId: 'oid-1',
      userName: 'AdeleV@contoso.example',
      active: true,
      name: { givenName: 'Adele', familyName: 'Vance' },
      title: 'Retail Manager',
    });
    const alex = await bridge.scim('POST', '/Users', { schemas: [USER_SCHEMA], externalId: 'oid-2', userName: 'AlexW@contoso.example', active: true });
    expect([adele.status, alex.status]).toEqual([201, 201]);
    const sales = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], externalId: 'oid-g1', displayName: 'Sales', members: [] });
    expect(sales.status).toBe(201);
    const members = (...ids: string[]) => ids.map((value) => ({ value }));
    expect(ok(await bridge.scim('PATCH', `/Groups/${sales.body.id}`, patch({ op: 'Add', path: 'members', value: members(adele.body.id, alex.body.id) })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Users/${adele.body.id}`, patch({ op: 'Replace', path: 'title', value: 'Store Director' })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Users/${alex.body.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Groups/${sales.body.id}`, patch({ op: 'Remove', path: `members[value eq "${alex.body.id}"]` })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Groups/${sales.body.id}`, patch({ op: 'Replace', path: 'displayName', value: 'Sales EMEA' })))).toBe(true);

    const expected = {
      users: [
        { externalId: 'oid-1', email: 'AdeleV@contoso.example', firstName: 'Adele', lastName: 'Vance', title: 'Store Director', enabled: true },
        { externalId: 'oid-2', email: 'AlexW@contoso.example', firstName: null, lastName: null, title: null, enabled: false },
      ],
      groups: [{ externalId: 'oid-g1', name: 'Sales EMEA', members: ['AdeleV@contoso.example'] }],
    };
    expect(await settle(view, expected)).toEqual(expected);
    expect(users.has('u-legacy')).toBe(true);

    expect(ok(await bridge.scim('DELETE', `/Groups/${sales.body.id}`))).toBe(true);
    expect(ok(await bridge.scim('DELETE', `/Users/${alex.body.id}`))).toBe(true);
    const after = { users: [expected.users[0]!], groups: [] };
    expect(await settle(view, after)).toEqual(after);
  });
});
