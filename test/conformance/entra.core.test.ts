import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/scim/filter.js';
import { normalizePatch, normalizeResource } from '../../src/scim/normalize.js';
import { applyPatch } from '../../src/scim/patch.js';
import { getValue } from '../../src/scim/paths.js';
import { project } from '../../src/scim/projection.js';
import { newResource, renderResource } from '../../src/scim/resource.js';
import { SCHEMA_ENTERPRISE_USER, type ScimResource } from '../../src/scim/types.js';
import { groupPatch, groupPost, recordedFilter, userPatch, userPost } from './entra-fixtures.js';

/**
 * Replays the recorded Entra traffic of test/fixtures/entra through the pure core, in the order
 * Entra sends it: lookup, create, update, disable, group membership (docs/entra-traffic.md §9).
 */

const NOW = new Date('2024-05-01T00:00:00.000Z');
const baseUrl = 'https://bridge.example.com/acme/scim/v2';

function createUser(name = 'createUser'): ScimResource {
  return newResource('User', normalizeResource('User', userPost(name)), { id: 'u-1', now: NOW }).doc;
}

function patchUser(doc: ScimResource, name: string): ScimResource {
  return applyPatch('User', doc, normalizePatch('User', userPatch(name))).doc;
}

const ent = (doc: ScimResource) => doc[SCHEMA_ENTERPRISE_USER] as Record<string, unknown> | undefined;

describe('Entra user create', () => {
  it('accepts the documented create body and ignores the client meta', () => {
    const doc = createUser();
    expect(doc).toMatchObject({ id: 'u-1', userName: 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee', active: true });
    // `roles: []` is an empty multi-valued attribute: unassigned, so absent (RFC 7643 §2.5).
    expect(doc).not.toHaveProperty('roles');
    expect(doc.meta).toEqual({ resourceType: 'User', created: NOW.toISOString(), lastModified: NOW.toISOString() });
  });

  it('tolerates the legacy quirks: nulls, client id, "True", malformed URN, string manager, JSON-string role', () => {
    const doc = createUser('createUserLegacyQuirks');
    expect(doc.id).toBe('u-1');
    expect(doc.active).toBe(true);
    expect(doc).not.toHaveProperty('addresses');
    expect(doc).not.toHaveProperty('phoneNumbers');
    expect(doc.emails).toEqual([{ primary: true, type: 'work', value: 'jdoe@contoso.com' }]);
    // The malformed URN names no schema; the extension the body carries is listed instead.
    expect(doc.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']);
    expect(ent(doc)).toEqual({ department: 'Sales', employeeNumber: '55555555555', manager: { value: '2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2' } });
    expect((doc.roles as { value: string }[])[0]?.value).toBe('{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}');
  });
});

describe('Entra user PATCH dialects', () => {
  it('applies the legacy bundle (capitalised ops, one op per attribute)', () => {
    const doc = patchUser(createUser(), 'legacyBundle');
    expect(doc).toMatchObject({ displayName: 'Pvlo', externalId: 'Eqpj', name: { givenName: 'Gtfd', familyName: 'Pkqf' } });
    expect(getValue(doc, 'emails[type eq "work"].value')).toBe('TestBcwqnm@test.microsoft.com');
    expect(doc.emails).toHaveLength(1);
    expect(ent(doc)).toEqual({ employeeNumber: 'Eqpj' });
  });

  it('applies the aadOptscim062020 bundle (path-less replace with dotted and URN keys) to the same result shape', () => {
    const doc = patchUser(createUser(), 'flagBundle');
    expect(doc).toMatchObject({ displayName: 'Bjfe', name: { givenName: 'Kkom', familyName: 'Unua', formatted: 'givenName familyName' } });
    expect(doc).not.toHaveProperty(['name.givenName']);
    expect(getValue(doc, 'emails[type eq "work"].value')).toBe('TestMhvaes@test.microsoft.com');
    expect(ent(doc)).toEqual({ employeeNumber: 'Aklq' });
  });

  it('applies a path-less add with dotted keys and an Add on an empty attribute', () => {
    const doc = patchUser(patchUser(createUser(), 'pathlessAddDotted'), 'addNickName');
    expect(doc).toMatchObject({ title: 'Tour Guide', displayName: 'Babs J', nickName: 'Babs', name: { givenName: 'Babs', familyName: 'Jensen', formatted: 'Babs Jensen' } });
  });

  it('applies the mixed real capture: filtered upserts plus an enterprise Add', () => {
    const doc = patchUser(createUser(), 'mixedCapture');
    expect(doc.emails).toEqual([{ primary: true, type: 'work', value: 'AdeleV2@REDACTED.onmicrosoft.com' }]);
    expect(doc.addresses).toEqual([{ type: 'work', formatted: '18/2111' }]);
    expect(ent(doc)).toEqual({ department: 'Retail' });
  });

  it('merges three ops on one filtered address into one element', () => {
    expect(patchUser(createUser(), 'addressMerge').addresses).toEqual([{ type: 'work', formatted: 'USZLTUSJXBYV', locality: 'OSGODHEVDCVD', region: 'YMVMOEMXAYGD' }]);
  });

  it('applies the validator replace of four filtered paths on a user without phones or addresses', () => {
    const doc = patchUser(createUser(), 'validatorReplaceAttributes');
    expect(getValue(doc, 'emails[type eq "work"].value')).toBe('new@example.com');
    expect(doc.phoneNumbers).toEqual([{ type: 'work', value: '55555555555' }]);
    expect(doc.addresses).toEqual([{ type: 'work', streetAddress: '1 Main St', locality: 'Springfield' }]);
  });

  it('renames through a path-less userName map', () => {
    expect(patchUser(createUser(), 'validatorPathlessUserName').userName).toBe('emilio@hermann.uk');
  });

  it('resolves attribute names in any case and coerces "True" on primary', () => {
    const doc = patchUser(createUser(), 'casedAttributeNames');
    expect(doc.addresses).toEqual([{ type: 'work', formatted: '1 Main St' }]);
    expect(doc.emails).toEqual([{ primary: true, type: 'work', value: 'Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com' }]);
  });

  it('stores a JSON-string role value as sent, with primary coerced', () => {
    const roles = patchUser(createUser(), 'rolesJsonString').roles as Record<string, unknown>[];
    expect(roles).toEqual([{ primary: true, type: 'WindowsAzureActiveDirectoryRole', value: '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}' }]);
  });

  it('clears attributes sent as "" or null', () => {
    const doc = patchUser({ ...createUser(), title: 'T', preferredLanguage: 'en' }, 'nullUpdate');
    expect(doc).not.toHaveProperty('title');
    expect(doc).not.toHaveProperty('preferredLanguage');
  });
});

describe('Entra disable and enable', () => {
  it.each([
    ['disableLegacy', false],
    ['disableFlag', false],
    ['disableLowercaseString', false],
    ['enableLegacy', true],
  ])('%s sets active to %s as a boolean', (name, expected) => {
    const start = { ...createUser(), active: !expected };
    expect(patchUser(start, name).active).toBe(expected);
  });
});

describe('Entra manager forms', () => {
  it.each([
    ['managerString', '271'],
    ['managerLowercaseString', '2c2f6fb8-254f-492e-b7fe-c09c5a61c8a2'],
    ['managerRefArray', '00aa00aa-bb11-cc22-dd33-44ee44ee44ee'],
    ['managerObject', 'AXTKDLNRKMKT'],
  ])('%s is stored and rendered as { value }', (name, id) => {
    const doc = patchUser(createUser(), name);
    expect(ent(doc)?.manager).toEqual({ value: id });
    const rendered = renderResource({ type: 'User', id: 'u-1', revision: 2, doc }, { baseUrl });
    expect((rendered[SCHEMA_ENTERPRISE_USER] as Record<string, unknown>).manager).toEqual({ value: id });
  });

  it.each(['managerRemove', 'managerReplaceEmpty'])('%s removes the manager', (name) => {
    const withManager = patchUser(createUser(), 'managerString');
    expect(ent(patchUser(withManager, name)) ?? {}).not.toHaveProperty('manager');
  });
});

describe('Entra groups', () => {
  const created = newResource('Group', normalizeResource('Group', groupPost('createGroup')), { id: 'g-1', now: NOW });
  const patchGroup = (name: string) => applyPatch('Group', created.doc, normalizePatch('Group', groupPatch(name)));

  it('creates a group with the ADSCIM schema URN and no members', () => {
    expect(created.doc.schemas).toContain('http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group');
    expect(created.members).toBeUndefined();
  });

  it('renames, and replaces externalId through a path-less map', () => {
    expect(patchGroup('rename').doc.displayName).toBe('1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName');
    expect(patchGroup('pathlessExternalId').doc.externalId).toBe('c3b9bbd8-9ef8-4e2e-9f4c-7a1c28b4e1b2');
  });

  it('adds members with $ref null as a delta', () => {
    expect(patchGroup('addMembers').members).toEqual({ kind: 'delta', add: ['f648f8d5ea4e4cd38e9c'], remove: [] });
  });

  it('removes members in both dialects as deltas, never clearing the group', () => {
    expect(patchGroup('removeMembersLegacy').members).toEqual({ kind: 'delta', add: [], remove: ['u1091'] });
    expect(patchGroup('removeMemberFlag').members).toEqual({ kind: 'delta', add: [], remove: ['7f4bc1a3-285e-48ae-8202-5accb43efb0e'] });
  });

  it('answers GET ?excludedAttributes=members without members', () => {
    const rendered = renderResource({ type: 'Group', id: 'g-1', revision: 1, doc: created.doc, members: ['u-1'] }, { baseUrl });
    expect(project(rendered, { excludedAttributes: 'members' })).not.toHaveProperty('members');
  });
});

describe('Entra filters', () => {
  const user = createUser();
  const group = newResource('Group', normalizeResource('Group', groupPost('createGroup')), { id: 'g-1', now: NOW }).doc;
  const plan = (name: string, replacements: Record<string, string> = {}) => {
    const recorded = recordedFilter(name);
    let filter = recorded.filter;
    for (const [placeholder, value] of Object.entries(replacements)) filter = filter.replaceAll(placeholder, value);
    return compileFilter(recorded.type, filter);
  };

  it('answers the Test Connection probes with an index lookup that matches nothing', () => {
    expect(plan('probeUserName').lookup).toEqual({ kind: 'index', attribute: 'userName', value: '3e59e27b-68ad-41f5-bb0e-dadf130e2ac8' });
    expect(plan('probeUserName').matches(user)).toBe(false);
    expect(plan('probeExternalId').lookup).toMatchObject({ attribute: 'externalId' });
    expect(plan('probeGroup').lookup).toMatchObject({ attribute: 'displayName' });
    expect(plan('probeGroup').matches(group)).toBe(false);
  });

  it('matches the created user by userName, externalId and work email in every recorded form', () => {
    expect(plan('matchUserName').matches(user)).toBe(true);
    expect(compileFilter('User', 'userName eq "test_user_00AA00AA-bb11-cc22-dd33-44ee44ee44ee"').matches(user)).toBe(true);
    expect(compileFilter('User', `externalId eq "${String(user.externalId)}"`).matches(user)).toBe(true);
    for (const name of ['matchWorkEmail', 'matchWorkEmailOldForm', 'matchEmailsValue']) {
      expect(plan(name).lookup).toEqual({ kind: 'index', attribute: 'email', value: 'Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com' });
      expect(plan(name).matches(user)).toBe(true);
    }
    expect(plan('matchGroup').matches(group)).toBe(true);
  });

  it('answers membership checks in both forms', () => {
    for (const name of ['memberCheckReference', 'memberCheckValuePath']) {
      const check = plan(name, { GROUP_ID: 'g-1', MEMBER_ID: 'u-1' });
      expect(check.lookup).toEqual({ kind: 'id', id: 'g-1' });
      expect(check.needsMembers).toBe(true);
      expect(check.matches(group, ['u-1'])).toBe(true);
      expect(check.matches(group, ['u-2'])).toBe(false);
    }
  });

  it('answers the manager reference check with unquoted ids', () => {
    const withManager = patchUser(user, 'managerString');
    expect(plan('managerCheck', { USER_ID: 'u-1', MANAGER_ID: '271' }).matches(withManager)).toBe(true);
    expect(plan('managerCheck', { USER_ID: 'u-1', MANAGER_ID: '272' }).matches(withManager)).toBe(false);
  });
});
