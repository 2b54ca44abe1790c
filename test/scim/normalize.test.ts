import { describe, expect, it } from 'vitest';
import { applyDeclaredExtensions } from '../../src/scim/extensions.js';
import { normalizePatch, normalizeResource } from '../../src/scim/normalize.js';
import { createSchemaRegistry } from '../../src/scim/schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER } from '../../src/scim/types.js';
import { errorOf } from '../helpers/scim-error.js';

describe('normalizeResource', () => {
  it('rejects a body that is not a JSON object', () => {
    for (const body of [null, 'x', [], 3]) expect(errorOf(() => normalizeResource('User', body)).scimType).toBe('invalidSyntax');
  });

  it('ignores client-supplied id and meta, and drops nulls at every level', () => {
    const doc = normalizeResource('User', {
      id: 'mine',
      meta: { resourceType: 'User' },
      userName: 'a',
      title: null,
      name: { givenName: 'A', familyName: null },
      emails: [null, { value: 'a@x', type: null }],
    });
    expect(doc).toEqual({ userName: 'a', name: { givenName: 'A' }, emails: [{ value: 'a@x' }], schemas: [SCHEMA_USER] });
  });

  it('does not mutate its input', () => {
    const body = { userName: 'a', active: 'True', emails: [{ primary: 'true', value: 'x' }] };
    const copy = structuredClone(body);
    normalizeResource('User', body);
    expect(body).toEqual(copy);
  });

  it('coerces string booleans on active and on primary inside multi-valued elements, in any case', () => {
    const doc = normalizeResource('User', {
      userName: 'a',
      active: 'FALSE',
      emails: [{ primary: 'True', value: 'x' }],
      phoneNumbers: [{ primary: 'false', value: '1' }],
    });
    expect(doc.active).toBe(false);
    expect(doc.emails).toEqual([{ primary: true, value: 'x' }]);
    expect(doc.phoneNumbers).toEqual([{ primary: false, value: '1' }]);
  });

  it('answers invalidValue when active is not a boolean after coercion', () => {
    const error = errorOf(() => normalizeResource('User', { userName: 'a', active: 'yes' }));
    expect([error.status, error.scimType]).toEqual([400, 'invalidValue']);
  });

  it('requires a non-empty userName for users and displayName for groups', () => {
    expect(errorOf(() => normalizeResource('User', { displayName: 'x' })).detail).toBe('userName is required');
    expect(errorOf(() => normalizeResource('User', { userName: '  ' })).scimType).toBe('invalidValue');
    expect(errorOf(() => normalizeResource('User', { userName: 42 })).scimType).toBe('invalidValue');
    expect(errorOf(() => normalizeResource('Group', { externalId: 'x' })).scimType).toBe('invalidValue');
  });

  it('turns a bare-string manager into an object and drops an empty one', () => {
    const doc = normalizeResource('User', { userName: 'a', [SCHEMA_ENTERPRISE_USER]: { manager: '271', department: 'D' } });
    expect(doc[SCHEMA_ENTERPRISE_USER]).toEqual({ manager: { value: '271' }, department: 'D' });
    const empty = normalizeResource('User', { userName: 'a', [SCHEMA_ENTERPRISE_USER]: { manager: '' } });
    expect(empty).not.toHaveProperty(SCHEMA_ENTERPRISE_USER);
    expect(empty.schemas).toEqual([SCHEMA_USER]);
  });

  it('keeps string values exactly as sent, including a JSON-looking role value', () => {
    const role = '{"id":"06b0","value":"25"}';
    const doc = normalizeResource('User', { userName: ' A@B ', phoneNumbers: [{ value: '55555555555' }], roles: [{ value: role }] });
    expect(doc.userName).toBe(' A@B ');
    expect(doc.phoneNumbers).toEqual([{ value: '55555555555' }]);
    expect(doc.roles).toEqual([{ value: role }]);
  });

  it('keeps schemas as sent, unknown URNs included, and defaults them when absent', () => {
    const adscim = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';
    expect(normalizeResource('Group', { schemas: [SCHEMA_GROUP, adscim], displayName: 'g' }).schemas).toEqual([SCHEMA_GROUP, adscim]);
    expect(normalizeResource('Group', { displayName: 'g' }).schemas).toEqual([SCHEMA_GROUP]);
    expect(normalizeResource('User', { userName: 'a', [SCHEMA_ENTERPRISE_USER]: { department: 'x' } }).schemas).toEqual([SCHEMA_USER, SCHEMA_ENTERPRISE_USER]);
  });

  it('ignores attributes, sub-attributes and extensions no schema defines (RFC 7643 §3), and read-only ones', () => {
    const custom = 'urn:ietf:params:scim:schemas:extension:Custom:2.0:User';
    const doc = normalizeResource('User', {
      schemas: [SCHEMA_USER, custom],
      userName: 'a',
      adreses: [{ street: 'x' }],
      name: { givenName: 'A', nickname: 'B' },
      emails: [{ value: 'a@x', label: 'mine' }, { label: 'only unknown' }],
      groups: [{ value: 'g1' }],
      [custom]: { badge: '7' },
      [SCHEMA_ENTERPRISE_USER]: { department: 'D', floor: 3 },
    });
    expect(doc).toEqual({
      schemas: [SCHEMA_USER, SCHEMA_ENTERPRISE_USER],
      userName: 'a',
      name: { givenName: 'A' },
      emails: [{ value: 'a@x' }],
      [SCHEMA_ENTERPRISE_USER]: { department: 'D' },
    });
  });

  it('keeps the attributes of a declared extension', () => {
    const custom = 'urn:ietf:params:scim:schemas:extension:Custom:2.0:User';
    const badge = { name: 'badge', type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite' } as const;
    const registry = createSchemaRegistry([{ id: custom, resourceType: 'User', required: false, attributes: [badge] }]);
    const doc = applyDeclaredExtensions('User', normalizeResource('User', { userName: 'a', [custom.toLowerCase()]: { Badge: '7', other: 1 } }, registry), registry);
    expect(doc).toEqual({ schemas: [SCHEMA_USER, custom], userName: 'a', [custom]: { badge: '7' } });
  });

  it('leaves empty multi-valued and complex attributes out, but keeps a group PUT emptying members', () => {
    expect(normalizeResource('User', { userName: 'a', roles: [], emails: [], name: {} })).toEqual({ schemas: [SCHEMA_USER], userName: 'a' });
    expect(normalizeResource('Group', { displayName: 'g', members: [] }).members).toEqual([]);
  });

  it('spells known attribute names canonically', () => {
    const doc = normalizeResource('User', { UserName: 'a', Active: 'true', Emails: [{ Value: 'x', Primary: 'True' }] });
    expect(doc).toMatchObject({ userName: 'a', active: true, emails: [{ value: 'x', primary: true }] });
  });
});

describe('normalizePatch', () => {
  it('requires an Operations array, accepting the key in any case', () => {
    expect(errorOf(() => normalizePatch('User', { schemas: [] })).scimType).toBe('invalidSyntax');
    expect(errorOf(() => normalizePatch('User', { Operations: {} })).scimType).toBe('invalidSyntax');
    expect(errorOf(() => normalizePatch('User', 'x')).scimType).toBe('invalidSyntax');
    expect(normalizePatch('User', { operations: [{ op: 'add', path: 'title', value: 't' }] })).toEqual([{ op: 'add', path: 'title', value: 't' }]);
  });

  it('lower-cases op and rejects unknown ops', () => {
    expect(normalizePatch('User', { Operations: [{ op: 'Replace', path: 'title', value: 't' }] })[0]?.op).toBe('replace');
    expect(errorOf(() => normalizePatch('User', { Operations: [{ op: 'Move', path: 'title', value: 't' }] })).scimType).toBe('invalidSyntax');
    expect(errorOf(() => normalizePatch('User', { Operations: [{ path: 'title', value: 't' }] })).scimType).toBe('invalidSyntax');
  });

  it('rejects remove without a path with noTarget', () => {
    expect(errorOf(() => normalizePatch('User', { Operations: [{ op: 'Remove' }] })).scimType).toBe('noTarget');
  });

  it('expands path-less maps with dotted and URN keys into one op per key', () => {
    const ops = normalizePatch('User', {
      Operations: [{ op: 'replace', value: { displayName: 'D', 'name.givenName': 'G', [`${SCHEMA_ENTERPRISE_USER}:department`]: 'S' } }],
    });
    expect(ops).toEqual([
      { op: 'replace', path: 'displayName', value: 'D' },
      { op: 'replace', path: 'name.givenName', value: 'G' },
      { op: 'replace', path: `${SCHEMA_ENTERPRISE_USER}:department`, value: 'S' },
    ]);
  });

  it('expands a schema URN key holding an object', () => {
    const ops = normalizePatch('User', { Operations: [{ op: 'add', value: { [SCHEMA_ENTERPRISE_USER]: { department: 'S', manager: 'm' } } }] });
    expect(ops).toEqual([
      { op: 'add', path: `${SCHEMA_ENTERPRISE_USER}:department`, value: 'S' },
      { op: 'add', path: `${SCHEMA_ENTERPRISE_USER}:manager`, value: { value: 'm' } },
    ]);
  });

  it('rejects a path-less add whose value is not an object', () => {
    expect(errorOf(() => normalizePatch('User', { Operations: [{ op: 'add', value: 'x' }] })).scimType).toBe('invalidSyntax');
  });

  it('coerces string booleans for active and primary, also inside value objects', () => {
    const ops = normalizePatch('User', {
      Operations: [
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'replace', value: { active: 'TRUE' } },
        { op: 'replace', path: 'emails[type eq "work"].primary', value: 'true' },
        { op: 'add', path: 'emails', value: [{ value: 'x', primary: 'True' }] },
        { op: 'replace', path: 'title', value: 'True' },
      ],
    });
    expect(ops.map((op) => op.value)).toEqual([false, true, true, [{ value: 'x', primary: true }], 'True']);
  });

  it('turns every manager form into { value } on the enterprise path', () => {
    const path = `${SCHEMA_ENTERPRISE_USER}:manager`;
    const forms = ['m1', { value: 'm1' }, [{ $ref: 'http://x/Users/m1', value: 'm1' }]];
    for (const value of forms) {
      expect(normalizePatch('User', { Operations: [{ op: 'Add', path, value }] })).toEqual([{ op: 'add', path, value: { value: 'm1' } }]);
    }
    expect(normalizePatch('User', { Operations: [{ op: 'Add', path: 'manager', value: 'm1' }] })).toEqual([{ op: 'add', path, value: { value: 'm1' } }]);
  });

  it('turns empty-string and null values into removes of that path', () => {
    const ops = normalizePatch('User', {
      Operations: [
        { op: 'replace', path: 'title', value: '' },
        { op: 'add', path: 'nickName', value: null },
        { op: 'replace', path: `${SCHEMA_ENTERPRISE_USER}:manager`, value: { value: '' } },
        { op: 'replace', value: { preferredLanguage: '' } },
      ],
    });
    expect(ops).toEqual([
      { op: 'remove', path: 'title' },
      { op: 'remove', path: 'nickName' },
      { op: 'remove', path: `${SCHEMA_ENTERPRISE_USER}:manager` },
      { op: 'remove', path: 'preferredLanguage' },
    ]);
  });

  it('rejects an add without value and a malformed path', () => {
    expect(errorOf(() => normalizePatch('User', { Operations: [{ op: 'add', path: 'title' }] })).scimType).toBe('invalidSyntax');
    expect(errorOf(() => normalizePatch('User', { Operations: [{ op: 'add', path: 'a[', value: 1 }] })).scimType).toBe('invalidPath');
  });
});
