import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP_SCHEMA, patch, settle, startExampleBridge, USER_SCHEMA, type ExampleBridge } from './bridge-run.js';
import { idMaker, startFakeTarget, type FakeTarget } from './fake-target.js';

/**
 * mappings/examples/api-insights.yaml (kind 2: email userName, role × identity type from groups,
 * no groups in the app) against a small fake of such an app, through a running bridge.
 */

interface Member { id: string; email: string; externalId: string | null; role: string; identityType: string; status: string }

const KEY = 'insights-key-0123456789';
const members = new Map<string, Member>();
const memberId = idMaker('m');
let target: FakeTarget;
let bridge: ExampleBridge;

const ALLOWED = new Set(['email', 'externalId', 'role', 'identityType', 'status']);
function check(body: Record<string, unknown>): void {
  const unknown = Object.keys(body).filter((key) => !ALLOWED.has(key));
  if (unknown.length > 0) throw new Error(`unknown keys ${unknown.join(',')}`);
}

beforeAll(async () => {
  target = await startFakeTarget(
    [
      { method: 'GET', path: /^\/v1\/members$/, handle: (r) => ({ status: 200, body: { members: [...members.values()].filter((m) => m.email === r.query.get('email')) } }) },
      {
        method: 'POST',
        path: /^\/v1\/members$/,
        handle: (r) => {
          const body = r.body as Member;
          check(body as unknown as Record<string, unknown>);
          if ([...members.values()].some((m) => m.email === body.email)) return { status: 409, body: { error: { detail: 'email taken' } } };
          const member = { ...body, id: memberId() };
          members.set(member.id, member);
          return { status: 201, body: { member } };
        },
      },
      {
        method: 'PATCH',
        path: /^\/v1\/members\/([^/]+)$/,
        handle: (r, [id]) => {
          const member = members.get(id!);
          if (!member) return { status: 404 };
          check(r.body as Record<string, unknown>);
          Object.assign(member, r.body);
          return { status: 200, body: { member } };
        },
      },
      { method: 'DELETE', path: /^\/v1\/members\/([^/]+)$/, handle: (_r, [id]) => ({ status: members.delete(id!) ? 204 : 404 }) },
    ],
    (r) => r.headers['x-api-key'] === KEY,
  );
  bridge = await startExampleBridge('api-insights', { baseUrl: target.url, auth: { type: 'apiKey', header: 'X-Api-Key', value: KEY } });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

const ok = (res: { status: number }) => res.status >= 200 && res.status < 300;
const view = () => [...members.values()].map(({ id: _id, ...m }) => m).sort((a, b) => a.email.localeCompare(b.email));

describe('example: API insights (email userName, role and identity type from groups)', () => {
  it('rejects a userName that is not an email with a precise 400, and stores nothing', async () => {
    const res = await bridge.scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'not-an-email', active: true });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ scimType: 'invalidValue', detail: expect.stringContaining('userName must be an email address') });
  });

  it('derives role × identity type from groups, follows membership, renames and deletes', { timeout: 60_000 }, async () => {
    // An existing member with the same email is linked (409 → exists → lookup), not duplicated.
    members.set('m-old', { id: 'm-old', email: 'svc-ci@contoso.example', externalId: null, role: 'User', identityType: 'Human', status: 'active' });
    const ann = await bridge.scim('POST', '/Users', {
      schemas: [USER_SCHEMA],
      userName: 'ann@contoso.example',
      externalId: 'oid-ann',
      active: true,
      displayName: 'Ann',
      title: 'ignored by the app',
    });
    const ci = await bridge.scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'svc-ci@contoso.example', externalId: 'oid-ci', active: true });
    const admins = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'API Insights Admins', members: [] });
    const services = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'API Insights Service Accounts', members: [] });
    expect([ann, ci, admins, services].map((r) => r.status)).toEqual([201, 201, 201, 201]);
    expect(ok(await bridge.scim('PATCH', `/Groups/${admins.body.id}`, patch({ op: 'Add', path: 'members', value: [{ value: ann.body.id }, { value: ci.body.id }] })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Groups/${services.body.id}`, patch({ op: 'Add', path: 'members', value: [{ value: ci.body.id }] })))).toBe(true);

    const both = [
      { email: 'ann@contoso.example', externalId: 'oid-ann', role: 'Admin', identityType: 'Human', status: 'active' },
      { email: 'svc-ci@contoso.example', externalId: 'oid-ci', role: 'Admin', identityType: 'Service account', status: 'active' },
    ];
    expect(await settle(view, both)).toEqual(both);
    expect(members.has('m-old')).toBe(true);

    // Leaving a group, a renamed group, a deleted group and a disable all reach the app.
    expect(ok(await bridge.scim('PATCH', `/Groups/${admins.body.id}`, patch({ op: 'Remove', path: `members[value eq "${ci.body.id}"]` })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Groups/${services.body.id}`, patch({ op: 'Replace', path: 'displayName', value: 'Robots' })))).toBe(true);
    expect(ok(await bridge.scim('PATCH', `/Users/${ann.body.id}`, patch({ op: 'Replace', path: 'active', value: 'False' })))).toBe(true);
    const changed = [
      { ...both[0]!, status: 'suspended' },
      { ...both[1]!, role: 'User', identityType: 'Human' },
    ];
    expect(await settle(view, changed)).toEqual(changed);
    expect(ok(await bridge.scim('PATCH', `/Groups/${services.body.id}`, patch({ op: 'Replace', path: 'displayName', value: 'API Insights Service Accounts' })))).toBe(true);
    const renamedBack = [changed[0]!, { ...both[1]!, role: 'User' }];
    expect(await settle(view, renamedBack)).toEqual(renamedBack);
    expect((await bridge.scim('DELETE', `/Groups/${services.body.id}`)).status).toBe(204);
    expect(await settle(view, changed)).toEqual(changed);

    expect((await bridge.scim('DELETE', `/Users/${ann.body.id}`)).status).toBe(204);
    expect(await settle(view, [changed[1]!])).toEqual([changed[1]!]);
  });
});
