import { describe, expect, it } from 'vitest';
import { newResource, renderResource, replaceResource, touch } from '../../src/scim/resource.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';

const T1 = new Date('2024-01-01T00:00:00.000Z');
const T2 = new Date('2024-02-01T00:00:00.000Z');
const baseUrl = 'https://bridge.example.com/acme/scim/v2';

describe('newResource', () => {
  it('sets id, schemas and meta', () => {
    const { doc, members } = newResource('User', { schemas: [SCHEMA_USER], userName: 'a' }, { id: 'u1', now: T1 });
    expect(doc).toEqual({
      id: 'u1',
      schemas: [SCHEMA_USER],
      userName: 'a',
      meta: { resourceType: 'User', created: T1.toISOString(), lastModified: T1.toISOString() },
    });
    expect(members).toBeUndefined();
  });

  it('splits group members off the document', () => {
    const { doc, members } = newResource('Group', { schemas: [SCHEMA_GROUP], displayName: 'g', members: [{ value: 'a', $ref: null }, { value: 'b' }, { value: 'a' }] }, { id: 'g1', now: T1 });
    expect(doc).not.toHaveProperty('members');
    expect(members).toEqual(['a', 'b']);
  });
});

describe('replaceResource', () => {
  const existing = newResource('Group', { schemas: [SCHEMA_GROUP], displayName: 'g', externalId: 'e' }, { id: 'g1', now: T1 }).doc;

  it('keeps id and meta.created, replaces the rest and bumps lastModified', () => {
    const { doc } = replaceResource(existing, { schemas: [SCHEMA_GROUP], displayName: 'h' }, T2);
    expect(doc).toEqual({ id: 'g1', schemas: [SCHEMA_GROUP], displayName: 'h', meta: { resourceType: 'Group', created: T1.toISOString(), lastModified: T2.toISOString() } });
  });

  it('returns members only when the body carries them', () => {
    expect(replaceResource(existing, { schemas: [SCHEMA_GROUP], displayName: 'h' }, T2).members).toBeUndefined();
    expect(replaceResource(existing, { schemas: [SCHEMA_GROUP], displayName: 'h', members: [] }, T2).members).toEqual([]);
  });
});

describe('touch', () => {
  it('sets lastModified on a copy', () => {
    const doc = newResource('User', { schemas: [SCHEMA_USER], userName: 'a' }, { id: 'u1', now: T1 }).doc;
    expect(touch(doc, T2).meta).toMatchObject({ created: T1.toISOString(), lastModified: T2.toISOString() });
    expect(doc.meta.lastModified).toBe(T1.toISOString());
  });
});

describe('renderResource', () => {
  const userDoc: ScimResource = {
    ...newResource('User', { schemas: [SCHEMA_USER], userName: 'a' }, { id: 'u1', now: T1 }).doc,
    [SCHEMA_ENTERPRISE_USER]: { manager: 'm1', department: 'D' },
  };
  const groupDoc = newResource('Group', { schemas: [SCHEMA_GROUP], displayName: 'g' }, { id: 'g1', now: T1 }).doc;

  it('adds location and a weak version from the revision', () => {
    const rendered = renderResource({ type: 'User', id: 'u1', revision: 3, doc: userDoc }, { baseUrl });
    expect(rendered.meta).toMatchObject({ location: `${baseUrl}/Users/u1`, version: 'W/"3"' });
  });

  it('always renders manager as an object', () => {
    const rendered = renderResource({ type: 'User', id: 'u1', revision: 1, doc: userDoc }, { baseUrl });
    expect(rendered[SCHEMA_ENTERPRISE_USER]).toEqual({ manager: { value: 'm1' }, department: 'D' });
  });

  it('renders loaded group members with $ref and omits members when not loaded', () => {
    const withMembers = renderResource({ type: 'Group', id: 'g1', revision: 2, doc: groupDoc, members: ['u1'] }, { baseUrl });
    expect(withMembers.members).toEqual([{ value: 'u1', $ref: `${baseUrl}/Users/u1`, type: 'User' }]);
    expect(withMembers.meta.location).toBe(`${baseUrl}/Groups/g1`);
    expect(renderResource({ type: 'Group', id: 'g1', revision: 2, doc: groupDoc }, { baseUrl })).not.toHaveProperty('members');
  });

  it('renders member display and nested groups with their type and $ref', () => {
    const stored = { type: 'Group' as const, id: 'g1', revision: 2, doc: groupDoc, members: ['g2', 'u1'], memberDetails: { u1: { display: 'Ada' }, g2: { type: 'Group' as const } } };
    expect(renderResource(stored, { baseUrl }).members).toEqual([
      { value: 'g2', $ref: `${baseUrl}/Groups/g2`, type: 'Group' },
      { value: 'u1', $ref: `${baseUrl}/Users/u1`, type: 'User', display: 'Ada' },
    ]);
  });

  it('leaves empty multi-valued attributes and an empty member list out', () => {
    const user = renderResource({ type: 'User', id: 'u1', revision: 1, doc: { ...userDoc, emails: [], roles: [] } }, { baseUrl });
    expect(user).not.toHaveProperty('emails');
    expect(user).not.toHaveProperty('roles');
    expect(renderResource({ type: 'Group', id: 'g1', revision: 1, doc: groupDoc, members: [] }, { baseUrl })).not.toHaveProperty('members');
  });
});
