import { describe, expect, it } from 'vitest';
import { normalizePatch } from '../../src/scim/normalize.js';
import { applyPatch } from '../../src/scim/patch.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER, type ResourceType, type ScimResource } from '../../src/scim/types.js';
import { errorOf } from '../helpers/scim-error.js';

const meta = (resourceType: ResourceType) => ({ resourceType, created: '2024-01-01T00:00:00.000Z', lastModified: '2024-01-01T00:00:00.000Z' });

function user(extra: Record<string, unknown> = {}): ScimResource {
  return { id: 'u1', schemas: [SCHEMA_USER], meta: meta('User'), userName: 'a@x', active: true, ...extra };
}

function group(extra: Record<string, unknown> = {}): ScimResource {
  return { id: 'g1', schemas: [SCHEMA_GROUP], meta: meta('Group'), displayName: 'G', ...extra };
}

function patch(type: ResourceType, doc: ScimResource, ...operations: unknown[]) {
  return applyPatch(type, doc, normalizePatch(type, { Operations: operations }));
}

describe('applyPatch on users', () => {
  it('applies add, replace and remove without mutating the stored document', () => {
    const doc = user({ title: 'T', name: { givenName: 'G' } });
    const before = structuredClone(doc);
    const { doc: after, members } = patch('User', doc,
      { op: 'replace', path: 'name.familyName', value: 'F' },
      { op: 'add', path: 'nickName', value: 'N' },
      { op: 'remove', path: 'title' },
    );
    expect(after).toMatchObject({ name: { givenName: 'G', familyName: 'F' }, nickName: 'N' });
    expect(after).not.toHaveProperty('title');
    expect(members).toBeUndefined();
    expect(doc).toEqual(before);
  });

  it('changes neither a frozen document nor the operations, so a retried write applies them alike', () => {
    const doc = deepFreeze(user({ emails: [{ type: 'work', value: 'a@x' }], name: { givenName: 'G' } }));
    const ops = normalizePatch('User', {
      Operations: [
        { op: 'add', path: 'emails[type eq "home"]', value: { value: 'h@x', primary: false } },
        { op: 'replace', path: 'emails[type eq "home"].primary', value: true },
        { op: 'add', path: 'addresses', value: [{ type: 'work', locality: 'L' }] },
        { op: 'replace', path: 'addresses[type eq "work"].locality', value: 'M' },
        { op: 'replace', path: 'name.givenName', value: 'H' },
      ],
    });
    const opsBefore = structuredClone(ops);
    const first = applyPatch('User', doc, ops).doc;
    expect(first.emails).toEqual([{ type: 'work', value: 'a@x' }, { type: 'home', value: 'h@x', primary: true }]);
    expect(first.addresses).toEqual([{ type: 'work', locality: 'M' }]);
    expect(ops).toEqual(opsBefore);
    expect(applyPatch('User', doc, ops).doc).toEqual(first);
  });

  it('works on a copy as JSON would make it: undefined properties left out, a __proto__ key kept as data', () => {
    const doc = user({ nickName: undefined, name: JSON.parse('{"givenName":"G","__proto__":{"admin":true}}') as Record<string, unknown> });
    const { doc: after } = patch('User', doc, { op: 'replace', path: 'title', value: 'T' });
    expect(Object.keys(after)).not.toContain('nickName');
    const name = after.name as Record<string, unknown>;
    expect(Object.getPrototypeOf(name)).toBe(Object.prototype);
    expect(Object.keys(name)).toEqual(['givenName', '__proto__']);
    expect(name).not.toBe(doc.name);
    expect((name as { admin?: unknown }).admin).toBeUndefined();
  });

  it('resolves attribute names case-insensitively onto the stored keys', () => {
    const { doc } = patch('User', user({ name: { givenName: 'G' } }), { op: 'replace', path: 'Name.GivenName', value: 'H' }, { op: 'replace', path: 'NICKNAME', value: 'n' });
    expect(doc.name).toEqual({ givenName: 'H' });
    expect(doc.nickName).toBe('n');
    expect(doc).not.toHaveProperty('Name');
  });

  it('upserts a filtered path: appends the typed element when none matches and leaves the others alone', () => {
    const { doc } = patch('User', user({ emails: [{ type: 'home', value: 'h@x' }] }), { op: 'replace', path: 'emails[type eq "work"].value', value: 'w@x' });
    expect(doc.emails).toEqual([{ type: 'home', value: 'h@x' }, { type: 'work', value: 'w@x' }]);
  });

  it('creates the multi-valued attribute when it is missing', () => {
    const { doc } = patch('User', user(), { op: 'add', path: 'phoneNumbers[type eq "mobile"].value', value: '123' });
    expect(doc.phoneNumbers).toEqual([{ type: 'mobile', value: '123' }]);
  });

  it('updates the matching element in place (filter value compared case-insensitively)', () => {
    const { doc } = patch('User', user({ emails: [{ type: 'work', value: 'old', primary: true }, { type: 'home', value: 'h' }] }), {
      op: 'replace', path: 'emails[type eq "Work"].value', value: 'new',
    });
    expect(doc.emails).toEqual([{ type: 'work', value: 'new', primary: true }, { type: 'home', value: 'h' }]);
  });

  it('merges several sub-attribute ops on one filtered element into one element', () => {
    const { doc } = patch('User', user(),
      { op: 'add', path: 'addresses[type eq "work"].formatted', value: 'F' },
      { op: 'add', path: 'addresses[type eq "work"].locality', value: 'L' },
      { op: 'add', path: 'addresses[type eq "work"].region', value: 'R' },
    );
    expect(doc.addresses).toEqual([{ type: 'work', formatted: 'F', locality: 'L', region: 'R' }]);
  });

  it('treats a remove on a filter that matches nothing as a no-op', () => {
    const doc = user({ emails: [{ type: 'work', value: 'w' }] });
    expect(patch('User', doc, { op: 'remove', path: 'emails[type eq "home"]' }).doc).toEqual(doc);
    expect(patch('User', doc, { op: 'remove', path: 'phoneNumbers[type eq "fax"].value' }).doc).toEqual(doc);
  });

  it('removes the matched element (or only a sub-attribute of it)', () => {
    const doc = user({ emails: [{ type: 'work', value: 'w', display: 'W' }, { type: 'home', value: 'h' }] });
    expect(patch('User', doc, { op: 'remove', path: 'emails[type eq "work"]' }).doc.emails).toEqual([{ type: 'home', value: 'h' }]);
    expect(patch('User', doc, { op: 'remove', path: 'emails[type eq "work"].value' }).doc.emails).toEqual([{ type: 'home', value: 'h' }]);
    expect(patch('User', doc, { op: 'remove', path: 'emails[type eq "work"].display' }).doc.emails).toEqual([{ type: 'work', value: 'w' }, { type: 'home', value: 'h' }]);
  });

  it('writes enterprise attributes under the extension URN', () => {
    const { doc } = patch('User', user(),
      { op: 'add', path: `${SCHEMA_ENTERPRISE_USER}:department`, value: 'Retail' },
      { op: 'add', path: `${SCHEMA_ENTERPRISE_USER}:manager`, value: '271' },
    );
    expect(doc[SCHEMA_ENTERPRISE_USER]).toEqual({ department: 'Retail', manager: { value: '271' } });
  });

  it('refuses to change id or meta with mutability', () => {
    expect(errorOf(() => patch('User', user(), { op: 'replace', path: 'id', value: 'x' })).scimType).toBe('mutability');
    expect(errorOf(() => patch('User', user(), { op: 'replace', value: { meta: { created: 'x' } } })).scimType).toBe('mutability');
    expect(errorOf(() => patch('User', user(), { op: 'remove', path: 'meta' })).scimType).toBe('mutability');
  });

  it('answers invalidPath for a path it cannot resolve', () => {
    expect(errorOf(() => patch('User', user(), { op: 'replace', path: 'userName.first', value: 'x' })).scimType).toBe('invalidPath');
    expect(errorOf(() => patch('User', user({ title: 'T' }), { op: 'add', path: 'title[type eq "x"].value', value: 'x' })).scimType).toBe('invalidPath');
  });

  it('answers noTarget when a filtered add cannot create the element', () => {
    expect(errorOf(() => patch('User', user(), { op: 'add', path: 'emails[type ne "work"].value', value: 'x' })).scimType).toBe('noTarget');
  });

  it('maps scim-patch errors to ScimError (remove with a value on a simple attribute)', () => {
    expect(errorOf(() => patch('User', user({ title: 'T' }), { op: 'remove', path: 'title', value: 'T' })).scimType).toBe('invalidValue');
  });

  it('validates the result like a POST body', () => {
    expect(errorOf(() => patch('User', user(), { op: 'remove', path: 'userName' })).detail).toBe('userName is required');
    expect(errorOf(() => patch('User', user(), { op: 'replace', path: 'active', value: 'maybe' })).scimType).toBe('invalidValue');
    expect(errorOf(() => patch('Group', group(), { op: 'replace', path: 'displayName', value: '' })).scimType).toBe('invalidValue');
  });
});

describe('applyPatch on group members', () => {
  it('extracts member adds (with $ref null and display) instead of writing them to the document', () => {
    const result = patch('Group', group(), { op: 'Add', path: 'members', value: [{ $ref: null, value: 'a' }, { value: 'b', display: 'B' }] });
    expect(result.members).toEqual({ kind: 'delta', add: ['a', 'b'], remove: [], details: { b: { display: 'B' } } });
    expect(result.doc).not.toHaveProperty('members');
  });

  it('removes only the listed members for a remove with a value array (never clears all)', () => {
    expect(patch('Group', group(), { op: 'Remove', path: 'members', value: [{ value: 'u1091' }] }).members).toEqual({ kind: 'delta', add: [], remove: ['u1091'] });
    expect(patch('Group', group(), { op: 'Remove', path: 'members', value: { value: 'x' } }).members).toEqual({ kind: 'delta', add: [], remove: ['x'] });
  });

  it('removes the member named by members[value eq "x"]', () => {
    expect(patch('Group', group(), { op: 'remove', path: 'members[value eq "x"]' }).members).toEqual({ kind: 'delta', add: [], remove: ['x'] });
  });

  it('sets membership for remove without a value and for replace', () => {
    expect(patch('Group', group(), { op: 'remove', path: 'members' }).members).toEqual({ kind: 'set', members: [] });
    expect(patch('Group', group(), { op: 'replace', path: 'members', value: [{ value: 'a' }, { value: 'b' }] }).members).toEqual({ kind: 'set', members: ['a', 'b'] });
  });

  it('handles a members key in a path-less add or replace', () => {
    const result = patch('Group', group(), { op: 'replace', value: { displayName: 'New', members: [{ value: 'a' }] } });
    expect(result.doc.displayName).toBe('New');
    expect(result.members).toEqual({ kind: 'set', members: ['a'] });
  });

  it('combines several member ops in order: deltas accumulate, a later set wins, the later of add and remove wins', () => {
    const accumulated = patch('Group', group(),
      { op: 'add', path: 'members', value: [{ value: 'a' }, { value: 'b' }] },
      { op: 'remove', path: 'members', value: [{ value: 'c' }] },
      { op: 'remove', path: 'members[value eq "b"]' },
    );
    expect(accumulated.members).toEqual({ kind: 'delta', add: ['a'], remove: ['c', 'b'] });
    const reset = patch('Group', group(),
      { op: 'add', path: 'members', value: [{ value: 'a' }] },
      { op: 'replace', path: 'members', value: [{ value: 'x' }] },
      { op: 'add', path: 'members', value: [{ value: 'y' }] },
      { op: 'remove', path: 'members[value eq "x"]' },
    );
    expect(reset.members).toEqual({ kind: 'set', members: ['y'] });
  });

  it('rejects members without a string value', () => {
    expect(errorOf(() => patch('Group', group(), { op: 'add', path: 'members', value: [{ display: 'x' }] })).scimType).toBe('invalidValue');
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
