import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account, Team } from '../../examples/sample-legacy-api/directory.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

/**
 * Okta's SCIM 2.0 client, replayed in the order Okta's SCIM 2.0 reference documents it, against
 * a running bridge (real HTTP, Redis, BullMQ worker) in front of the sample legacy API:
 * connection test, lookup by `userName eq` with `count=100`, create, import paging, profile
 * update as a full PUT, deactivate/reactivate as PATCH of `active` only, group push with
 * `members` in POST and PUT bodies, rename and membership PATCHes, group delete. At the end the
 * legacy API must hold what Okta pushed. Bodies follow the documented shapes, with our values.
 */

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

let f: BridgeFixture;
beforeAll(async () => {
  f = await startBridgeFixture('okta');
});
afterAll(() => f?.close());

/** Okta's query strings: `%20` for spaces and `%22` for quotes, always with startIndex and count. */
const query = (filter: string) => `filter=${encodeURIComponent(filter)}&startIndex=1&count=100`;

/** The user body Okta sends on create and, with `id`, on every profile update. */
const oktaUser = (login: string, given: string, family: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER],
  userName: login,
  name: { givenName: given, familyName: family },
  emails: [{ primary: true, value: login, type: 'work' }],
  displayName: `${given} ${family}`,
  locale: 'en-US',
  externalId: '00ujl29u0le5T6Aj10h7',
  groups: [],
  password: 'Pa55-w0rd-0kta',
  active: true,
  ...extra,
});

const deactivate = (active: boolean) => ({ schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active } }] });

describe('Okta provisioning sequence', () => {
  const ids: Record<string, string> = {};

  it('passes the connection test (first page of users, count=1, and of groups)', async () => {
    const users = await f.scim('GET', '/Users?startIndex=1&count=1');
    expect(users.status).toBe(200);
    expect(users.body).toMatchObject({ schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
    expect((await f.scim('GET', '/Groups?startIndex=1&count=100')).status).toBe(200);
  });

  it('looks a user up by userName eq, creates it, and never returns the password', async () => {
    const lookup = await f.scim('GET', `/Users?${query('userName eq "grace.hopper@example.com"')}`);
    expect(lookup.body).toMatchObject({ totalResults: 0, Resources: [] });
    const created = await f.scim('POST', '/Users', oktaUser('grace.hopper@example.com', 'Grace', 'Hopper'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userName: 'grace.hopper@example.com', active: true, name: { givenName: 'Grace' } });
    expect(created.body).not.toHaveProperty('password');
    ids.grace = created.body.id;
    const found = await f.scim('GET', `/Users?${query('userName eq "Grace.Hopper@example.com"')}`);
    expect(found.body.Resources.map((r: { id: string }) => r.id)).toEqual([ids.grace]);
    expect(found.body.Resources[0]).not.toHaveProperty('password');
  });

  it('imports users page by page with count=100', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 100; i++) {
      const res = await f.scim('POST', '/Users', oktaUser(`import-${String(i).padStart(3, '0')}@example.com`, 'Import', `N${i}`, { externalId: `okta-${i}` }));
      expect(res.status).toBe(201);
    }
    const first = await f.scim('GET', '/Users?startIndex=1&count=100');
    expect(first.body).toMatchObject({ totalResults: 101, startIndex: 1, itemsPerPage: 100 });
    const second = await f.scim('GET', '/Users?startIndex=101&count=100');
    expect(second.body).toMatchObject({ totalResults: 101, startIndex: 101, itemsPerPage: 1 });
    const seen = new Set([...first.body.Resources, ...second.body.Resources].map((r: { id: string }) => r.id));
    expect(seen.size).toBe(101);
  });

  it('updates a profile with GET then a full PUT that replaces every attribute', async () => {
    const current = await f.scim('GET', `/Users/${ids.grace}`);
    expect(current.status).toBe(200);
    const replaced = await f.scim('PUT', `/Users/${ids.grace}`, oktaUser('grace.hopper@example.com', 'Grace', 'Hopper-Murray', { id: ids.grace, title: 'Rear Admiral' }));
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ id: ids.grace, name: { givenName: 'Grace', familyName: 'Hopper-Murray' }, title: 'Rear Admiral' });
    // A full replace: what the next PUT leaves out is gone.
    const again = await f.scim('PUT', `/Users/${ids.grace}`, oktaUser('grace.hopper@example.com', 'Grace', 'Hopper-Murray', { id: ids.grace }));
    expect(again.body).not.toHaveProperty('title');
    expect(again.body.meta.created).toBe(current.body.meta.created);
  });

  it('deactivates and reactivates with a PATCH of active only', async () => {
    const off = await f.scim('PATCH', `/Users/${ids.grace}`, deactivate(false));
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: ids.grace, active: false, name: { familyName: 'Hopper-Murray' } });
    const still = await f.scim('GET', `/Users?${query('userName eq "grace.hopper@example.com"')}`);
    expect(still.body.Resources[0].active).toBe(false);
    const on = await f.scim('PATCH', `/Users/${ids.grace}`, deactivate(true));
    expect(on.body.active).toBe(true);
  });

  it('pushes a group with members in the POST body, renames it and changes membership by PATCH', async () => {
    const ada = await f.scim('POST', '/Users', oktaUser('ada.lovelace@example.com', 'Ada', 'Lovelace', { externalId: '00uada' }));
    ids.ada = ada.body.id;
    const pushed = await f.scim('POST', '/Groups', {
      schemas: [GROUP],
      displayName: 'Okta Engineers',
      members: [{ value: ids.grace, display: 'grace.hopper@example.com' }],
    });
    expect(pushed.status).toBe(201);
    ids.group = pushed.body.id;
    expect(pushed.body.members.map((m: { value: string }) => m.value)).toEqual([ids.grace]);

    // Okta's rename carries the group's own id in the value.
    const renamed = await f.scim('PATCH', `/Groups/${ids.group}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { id: ids.group, displayName: 'Okta Engineering' } }],
    });
    expect(renamed.status).toBeLessThan(300);
    const membership = await f.scim('PATCH', `/Groups/${ids.group}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'remove', path: `members[value eq "${ids.grace}"]` },
        { op: 'add', path: 'members', value: [{ value: ids.ada, display: 'ada.lovelace@example.com' }] },
      ],
    });
    expect(membership.status).toBeLessThan(300);
    const read = await f.scim('GET', `/Groups/${ids.group}`);
    expect(read.body.displayName).toBe('Okta Engineering');
    expect(read.body.members.map((m: { value: string }) => m.value)).toEqual([ids.ada]);
  });

  it('pushes a group update as a PUT with the full member list', async () => {
    const put = await f.scim('PUT', `/Groups/${ids.group}`, {
      schemas: [GROUP],
      id: ids.group,
      displayName: 'Okta Engineering',
      members: [
        { value: ids.ada, display: 'ada.lovelace@example.com' },
        { value: ids.grace, display: 'grace.hopper@example.com' },
      ],
    });
    expect(put.status).toBe(200);
    expect(put.body.members.map((m: { value: string }) => m.value).sort()).toEqual([ids.ada, ids.grace].sort());
    const lookup = await f.scim('GET', `/Groups?${query('displayName eq "Okta Engineering"')}`);
    expect(lookup.body.Resources.map((r: { id: string }) => r.id)).toEqual([ids.group]);
  });

  it('leaves the legacy API holding the pushed users and the group with both members', async () => {
    const snapshot = async () => {
      const accounts = ((await f.legacy.get('/api/v1/accounts')) as { data: Account[] }).data;
      const teams = ((await f.legacy.get('/api/v1/teams')) as { data: Team[] }).data;
      const loginOf = new Map(accounts.map((a) => [a.account_id, a.login]));
      const grace = accounts.find((a) => a.login === 'grace.hopper@example.com');
      const team = teams.find((t) => t.name === 'Okta Engineering');
      return {
        accounts: accounts.length,
        grace: grace && { last_name: grace.last_name, status: grace.status },
        team: team && team.members.map((m) => loginOf.get(m)).sort(),
      };
    };
    const expected = { accounts: 102, grace: { last_name: 'Hopper-Murray', status: 'ENABLED' }, team: ['ada.lovelace@example.com', 'grace.hopper@example.com'] };
    await eventually(async () => JSON.stringify(await snapshot()) === JSON.stringify(expected), { timeoutMs: 60_000 });
    expect(await snapshot()).toEqual(expected);
  }, 90_000);

  it('deletes the group', async () => {
    expect((await f.scim('DELETE', `/Groups/${ids.group}`)).status).toBe(204);
    expect((await f.scim('GET', `/Groups/${ids.group}`)).status).toBe(404);
  });
});
