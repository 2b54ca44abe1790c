import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';

/**
 * Entra's documented provisioning sequence (docs/entra-traffic.md §3) against a running bridge
 * (real HTTP, real Redis, real BullMQ worker) in front of the real sample legacy API. At the end
 * the legacy API must hold exactly the mapped users, teams and memberships.
 */

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Account {
  account_id: string;
  login: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  department?: string;
  display_name?: string;
  status: string;
}
interface Team {
  team_id: string;
  name: string;
  external_ref?: string;
  members: string[];
}

let f: BridgeFixture;

beforeAll(async () => {
  f = await startBridgeFixture('e2e');
});
afterAll(async () => {
  await f?.close();
});

const userBody = (userName: string, given: string, family: string, extra: Record<string, unknown> = {}) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
  externalId: `ext-${given.toLowerCase()}`,
  userName,
  active: 'True',
  emails: [{ primary: true, type: 'work', value: userName }],
  meta: { resourceType: 'User' },
  name: { formatted: `${given} ${family}`, familyName: family, givenName: given },
  roles: [],
  addresses: null,
  [ENTERPRISE]: { department: 'Research' },
  ...extra,
});

describe('Entra provisioning sequence end to end', () => {
  it('converges the legacy API on exactly what Entra said', async () => {
    // 1. Test connection: probes with random GUIDs answer 200 and an empty ListResponse.
    const probe = await f.scim('GET', '/Users?filter=userName+eq+%223e59e27b-68ad-41f5-bb0e-dadf130e2ac8%22&aadOptscim062020');
    expect(probe.status).toBe(200);
    expect(probe.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(probe.body).toMatchObject({ totalResults: 0, Resources: [] });
    const groupProbe = await f.scim('GET', '/Groups?excludedAttributes=members&filter=displayName+eq+%2255fe0b2b-3cc0-4c6b-9d1e-6f6b4b5c1d3e%22');
    expect(groupProbe.status).toBe(200);
    expect(groupProbe.body.totalResults).toBe(0);

    // 2. GET-filter miss, then POST (the documented body: string boolean, meta, nulls, roles: []).
    const miss = await f.scim('GET', '/Users?filter=userName+eq+%22ada%40example.com%22');
    expect(miss.body.totalResults).toBe(0);
    const ada = await f.scim('POST', '/Users', userBody('ada@example.com', 'Ada', 'Lovelace'));
    expect(ada.status).toBe(201);
    expect(ada.body.id).toEqual(expect.any(String));
    expect(ada.body.active).toBe(true);
    expect(ada.headers.get('location')).toBe(`${f.tenantUrl}/Users/${ada.body.id}`);
    const bob = await f.scim('POST', '/Users', userBody('bob@example.com', 'Bob', 'Babbage'));
    const cy = await f.scim('POST', '/Users', userBody('cy@example.com', 'Cy', 'Clarke'));
    expect([bob.status, cy.status]).toEqual([201, 201]);

    // Match hit, case-insensitive userName, exactly one result.
    const hit = await f.scim('GET', '/Users?filter=userName+eq+%22ADA%40example.com%22');
    expect(hit.body.totalResults).toBe(1);
    expect(hit.body.Resources[0].id).toBe(ada.body.id);

    // 3. PATCH, legacy dialect: capitalised ops, filtered path, URN path.
    const legacyPatch = await f.scim('PATCH', `/Users/${ada.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'ada.lovelace@example.com' },
        { op: 'Replace', path: 'name.familyName', value: 'King' },
        { op: 'Add', path: `${ENTERPRISE}:department`, value: 'Analytical Engines' },
      ],
    });
    expect(legacyPatch.status).toBe(200);
    expect(legacyPatch.body.emails).toEqual([{ primary: true, type: 'work', value: 'ada.lovelace@example.com' }]);

    // 4. PATCH, aadOptscim062020 dialect: path-less replace with dotted and URN keys.
    const newPatch = await f.scim('PATCH', `/Users/${ada.body.id}?aadOptscim062020`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'replace', value: { 'name.givenName': 'Augusta Ada', [`${ENTERPRISE}:department`]: 'Mathematics' } }],
    });
    expect(newPatch.status).toBe(200);
    expect(newPatch.body.name.givenName).toBe('Augusta Ada');
    expect(newPatch.body[ENTERPRISE].department).toBe('Mathematics');

    // 5. Disable Bob with the legacy string boolean; he stays readable.
    const disable = await f.scim('PATCH', `/Users/${bob.body.id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(disable.status).toBe(200);
    expect(disable.body.active).toBe(false);
    expect((await f.scim('GET', `/Users/${bob.body.id}`)).body.active).toBe(false);

    // 6. Group: lookup miss, create, add members (value array with $ref: null), remove in both forms.
    expect((await f.scim('GET', '/Groups?excludedAttributes=members&filter=displayName+eq+%22Engineers%22')).body.totalResults).toBe(0);
    const group = await f.scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group', 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'Engineers',
      meta: { resourceType: 'Group' },
    });
    expect(group.status).toBe(201);
    const gid = group.body.id as string;
    const addMembers = await f.scim('PATCH', `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [
        {
          op: 'Add',
          path: 'members',
          value: [
            { $ref: null, value: ada.body.id },
            { $ref: null, value: bob.body.id },
            { $ref: null, value: cy.body.id },
          ],
        },
      ],
    });
    expect(addMembers.status).toBe(204);
    const removeLegacy = await f.scim('PATCH', `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: 'Remove', path: 'members', value: [{ value: bob.body.id }] }],
    });
    expect(removeLegacy.status).toBe(204);
    const membership = await f.scim('GET', `/Groups?filter=id+eq+%22${gid}%22+and+members+eq+%22${ada.body.id}%22&attributes=id`);
    expect(membership.body.totalResults).toBe(1);
    const notMember = await f.scim('GET', `/Groups?filter=id+eq+%22${gid}%22+and+members+eq+%22${bob.body.id}%22&attributes=id`);
    expect(notMember.body.totalResults).toBe(0);
    const groupRead = await f.scim('GET', `/Groups/${gid}`);
    expect(groupRead.body.members.map((m: { value: string }) => m.value).sort()).toEqual([ada.body.id, cy.body.id].sort());
    expect((await f.scim('GET', `/Groups/${gid}?excludedAttributes=members`)).body.members).toBeUndefined();

    // 7. Hard delete of Cy: gone from SCIM and from the group.
    expect((await f.scim('DELETE', `/Users/${cy.body.id}`)).status).toBe(204);
    expect((await f.scim('GET', `/Users/${cy.body.id}`)).status).toBe(404);

    // The legacy API converges on exactly the mapped state.
    const expected = {
      accounts: [
        {
          login: 'ada@example.com',
          email: 'ada.lovelace@example.com',
          first_name: 'Augusta Ada',
          last_name: 'King',
          department: 'Mathematics',
          display_name: 'Augusta Ada King',
          status: 'ENABLED',
        },
        {
          login: 'bob@example.com',
          email: 'bob@example.com',
          first_name: 'Bob',
          last_name: 'Babbage',
          department: 'Research',
          display_name: 'Bob Babbage',
          status: 'DISABLED',
        },
      ],
      teams: [{ name: 'Engineers', external_ref: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', members: ['ada@example.com'] }],
    };
    const snapshot = async () => {
      const accounts = ((await f.legacy.get('/api/v1/accounts')) as { data: Account[] }).data;
      const teams = ((await f.legacy.get('/api/v1/teams')) as { data: Team[] }).data;
      const loginOf = new Map(accounts.map((a) => [a.account_id, a.login]));
      return {
        accounts: accounts
          .map(({ account_id: _id, ...rest }) => rest)
          .sort((a, b) => a.login.localeCompare(b.login)),
        teams: teams.map((t) => ({ name: t.name, external_ref: t.external_ref, members: t.members.map((m) => loginOf.get(m) ?? m).sort() })),
      };
    };
    const converged = await eventually(async () => JSON.stringify(await snapshot()) === JSON.stringify(expected));
    expect(await snapshot()).toEqual(expected);
    expect(converged).toBe(true);
  });
});
