import { describe, expect, it } from 'vitest';
import { ScimError } from '../../src/scim/errors.js';
import { getValue, parsePath } from '../../src/scim/paths.js';
import { SCHEMA_ENTERPRISE_USER } from '../../src/scim/types.js';

const user = {
  id: 'u1',
  userName: 'bjensen@example.com',
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  emails: [
    { type: 'home', value: 'home@example.com' },
    { type: 'work', value: 'work@example.com', primary: true },
  ],
  addresses: [{ type: 'work', streetAddress: '1 Main St' }],
  roles: [{ primary: true, value: 'Admin' }],
  [SCHEMA_ENTERPRISE_USER]: { department: 'Sales', manager: { value: 'm1' } },
};

function scimTypeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ScimError) return error.scimType;
    throw error;
  }
  return undefined;
}

describe('parsePath', () => {
  it('parses plain, dotted and filtered paths', () => {
    expect(parsePath('userName')).toEqual({ attribute: 'userName' });
    expect(parsePath('name.givenName')).toEqual({ attribute: 'name', subAttribute: 'givenName' });
    const filtered = parsePath('emails[type eq "work"].value');
    expect(filtered).toMatchObject({ attribute: 'emails', subAttribute: 'value', filter: { op: 'eq', attrPath: 'type', compValue: 'work' } });
    expect(parsePath('members[value eq "x"]')).toMatchObject({ attribute: 'members', filter: { op: 'eq', attrPath: 'value', compValue: 'x' } });
  });

  it('splits URN-qualified paths at the last colon before any filter', () => {
    expect(parsePath(`${SCHEMA_ENTERPRISE_USER}:department`)).toEqual({ urn: SCHEMA_ENTERPRISE_USER, attribute: 'department' });
    expect(parsePath(`${SCHEMA_ENTERPRISE_USER}:manager.value`)).toEqual({ urn: SCHEMA_ENTERPRISE_USER, attribute: 'manager', subAttribute: 'value' });
    expect(parsePath('members[value eq "urn:x:y"]')).toMatchObject({ attribute: 'members', filter: { compValue: 'urn:x:y' } });
  });

  it('accepts capitalised booleans in value filters', () => {
    expect(parsePath('roles[primary eq True].value').filter).toEqual({ op: 'eq', attrPath: 'primary', compValue: true });
  });

  it('rejects malformed paths with invalidPath', () => {
    expect(scimTypeOf(() => parsePath('emails[type eq "work"'))).toBe('invalidPath');
    expect(scimTypeOf(() => parsePath('emails[type zz "work"].value'))).toBe('invalidPath');
    expect(scimTypeOf(() => parsePath('a.b.c'))).toBe('invalidPath');
    expect(scimTypeOf(() => parsePath(''))).toBe('invalidPath');
  });
});

describe('getValue', () => {
  it('reads attributes case-insensitively', () => {
    expect(getValue(user, 'USERNAME')).toBe('bjensen@example.com');
    expect(getValue(user, 'Name.GivenName')).toBe('Barbara');
  });

  it('returns the first matching element sub-attribute for a filtered path, case-insensitively', () => {
    expect(getValue(user, 'emails[type eq "work"].value')).toBe('work@example.com');
    expect(getValue(user, 'emails[Type eq "WORK"].Value')).toBe('work@example.com');
    expect(getValue(user, 'emails[type eq "other"].value')).toBeUndefined();
    expect(getValue(user, 'emails[type eq "work" and primary eq true].value')).toBe('work@example.com');
    expect(getValue(user, 'roles[primary eq "True"].value')).toBe('Admin');
  });

  it('returns the primary element value for an unfiltered sub-attribute path, else the first', () => {
    expect(getValue(user, 'emails.value')).toBe('work@example.com');
    expect(getValue({ emails: [{ value: 'a' }, { value: 'b' }] }, 'emails.value')).toBe('a');
  });

  it('returns the whole attribute for a plain path and the element for a filter without sub-attribute', () => {
    expect(getValue(user, 'emails')).toHaveLength(2);
    expect(getValue({ members: [{ value: 'x' }, { value: 'y' }] }, 'members[value eq "y"]')).toEqual({ value: 'y' });
  });

  it('reads extension attributes by URN', () => {
    expect(getValue(user, `${SCHEMA_ENTERPRISE_USER}:department`)).toBe('Sales');
    expect(getValue(user, `${SCHEMA_ENTERPRISE_USER.toLowerCase()}:manager.value`)).toBe('m1');
    expect(getValue(user, 'urn:ietf:params:scim:schemas:core:2.0:User:userName')).toBe('bjensen@example.com');
    expect(getValue(user, 'urn:ietf:params:scim:schemas:extension:other:2.0:User:x')).toBeUndefined();
  });

  it('gives undefined for a sub-attribute of a simple value', () => {
    expect(getValue(user, 'userName.x')).toBeUndefined();
  });
});
