import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/scim/filter.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { errorOf } from '../helpers/scim-error.js';

const meta = { resourceType: 'User' as const, created: 'x', lastModified: 'x' };
const user: ScimResource = {
  id: 'U-1',
  schemas: [SCHEMA_USER],
  meta,
  userName: 'Bjensen@Example.com',
  externalId: 'Ext-1',
  displayName: 'Babs',
  active: true,
  title: 'Tour Guide',
  emails: [
    { type: 'home', value: 'home@example.com' },
    { type: 'work', value: 'Work@Example.com' },
  ],
  [SCHEMA_ENTERPRISE_USER]: { manager: { value: 'M-1' }, employeeNumber: '42' },
};
const group: ScimResource = { id: 'G-1', schemas: [SCHEMA_GROUP], meta: { ...meta, resourceType: 'Group' }, displayName: 'Sales' };

describe('compileFilter lookups', () => {
  it('uses the index for eq on indexed attributes', () => {
    expect(compileFilter('User', 'userName eq "a"').lookup).toEqual({ kind: 'index', attribute: 'userName', value: 'a' });
    expect(compileFilter('User', 'externalId eq "e"').lookup).toEqual({ kind: 'index', attribute: 'externalId', value: 'e' });
    expect(compileFilter('Group', 'displayName eq "g"').lookup).toEqual({ kind: 'index', attribute: 'displayName', value: 'g' });
    expect(compileFilter('User', 'emails.value eq "m"').lookup).toEqual({ kind: 'index', attribute: 'email', value: 'm' });
    expect(compileFilter('User', 'id eq "x"').lookup).toEqual({ kind: 'id', id: 'x' });
  });

  it('reads attribute names and operators case-insensitively, core URN prefix included', () => {
    expect(compileFilter('User', 'USERNAME EQ "a"').lookup).toEqual({ kind: 'index', attribute: 'userName', value: 'a' });
    expect(compileFilter('User', `${SCHEMA_USER}:userName eq "a"`).lookup).toEqual({ kind: 'index', attribute: 'userName', value: 'a' });
  });

  it('picks the most selective clause of a top-level and', () => {
    expect(compileFilter('User', 'externalId eq "e" and userName eq "u"').lookup).toMatchObject({ attribute: 'userName' });
    expect(compileFilter('User', 'emails.value eq "m" and externalId eq "e"').lookup).toMatchObject({ attribute: 'externalId' });
    expect(compileFilter('Group', 'displayName eq "g" and id eq "G-1"').lookup).toEqual({ kind: 'id', id: 'G-1' });
  });

  it('scans for or, ne, co, sw, pr and non-indexed attributes', () => {
    for (const f of ['userName eq "a" or userName eq "b"', 'userName ne "a"', 'userName co "a"', 'userName sw "a"', 'title pr', 'title eq "x"']) {
      expect(compileFilter('User', f).lookup).toEqual({ kind: 'scan' });
    }
    expect(compileFilter('Group', 'userName eq "a"').lookup).toEqual({ kind: 'scan' });
  });
});

describe('compileFilter matching', () => {
  const matches = (filter: string, resource = user, members?: string[]) => compileFilter(resource === group ? 'Group' : 'User', filter).matches(resource, members);

  it('compares userName, displayName and emails case-insensitively, externalId and id exactly', () => {
    expect(matches('userName eq "bjensen@example.com"')).toBe(true);
    expect(matches('displayName eq "BABS"')).toBe(true);
    expect(matches('emails.value eq "work@example.com"')).toBe(true);
    expect(matches('externalId eq "Ext-1"')).toBe(true);
    expect(matches('externalId eq "ext-1"')).toBe(false);
    expect(matches('id eq "u-1"')).toBe(false);
  });

  it('correlates emails[type eq "work"].value eq "x" on one element', () => {
    const plan = compileFilter('User', 'emails[type eq "work"].value eq "work@example.com"');
    expect(plan.lookup).toEqual({ kind: 'index', attribute: 'email', value: 'work@example.com' });
    expect(plan.matches(user)).toBe(true);
    expect(matches('emails[type eq "work"].value eq "home@example.com"')).toBe(false);
    expect(matches('emails[type eq "work"] eq "work@example.com"')).toBe(true);
  });

  it('supports ne, co, sw, pr, or and not', () => {
    expect(matches('title ne "x"')).toBe(true);
    expect(matches('title co "GUIDE"')).toBe(true);
    expect(matches('title sw "tour"')).toBe(true);
    expect(matches('title pr and nickName pr')).toBe(false);
    expect(matches('userName eq "x" or title pr')).toBe(true);
    expect(matches('not (title pr)')).toBe(false);
  });

  it('accepts boolean literals in any case, quoted or not, and numbers', () => {
    expect(matches('active eq True')).toBe(true);
    expect(matches('active eq "true"')).toBe(true);
    expect(matches('active eq FALSE')).toBe(false);
    expect(matches('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 42')).toBe(true);
  });

  it('tests group membership with members eq and members[value eq], needing members', () => {
    for (const f of ['id eq "G-1" and members eq "U-1"', 'id eq "G-1" and members[value eq "U-1"]']) {
      const plan = compileFilter('Group', f);
      expect(plan.needsMembers).toBe(true);
      expect(plan.lookup).toEqual({ kind: 'id', id: 'G-1' });
      expect(plan.matches(group, ['U-1', 'U-2'])).toBe(true);
      expect(plan.matches(group, ['U-2'])).toBe(false);
      expect(plan.matches(group)).toBe(false);
    }
    expect(compileFilter('Group', 'displayName eq "Sales"').needsMembers).toBe(false);
  });

  it('checks the manager reference without URN and with unquoted GUIDs', () => {
    expect(matches('id eq U-1 and manager eq M-1')).toBe(true);
    expect(matches('id eq U-1 and manager eq M-2')).toBe(false);
    expect(compileFilter('User', 'id eq U-1 and manager eq M-1').lookup).toEqual({ kind: 'id', id: 'U-1' });
  });
});

describe('compileFilter errors', () => {
  it('answers invalidFilter with the reason', () => {
    for (const f of ['', 'userName', 'userName xx "a"', 'userName eq "a" and', '(userName eq "a"', 'emails[type eq "work"', 'a[b[c eq 1]]', 'userName eq "a" zz']) {
      const error = errorOf(() => compileFilter('User', f));
      expect([error.status, error.scimType]).toEqual([400, 'invalidFilter']);
      expect(error.detail.length).toBeGreaterThan(0);
    }
  });
});
