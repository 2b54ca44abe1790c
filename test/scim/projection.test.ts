import { describe, expect, it } from 'vitest';
import { project } from '../../src/scim/projection.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER } from '../../src/scim/types.js';

const meta = { resourceType: 'User', created: 'c', lastModified: 'm' };
const user = {
  id: 'u1',
  schemas: [SCHEMA_USER, SCHEMA_ENTERPRISE_USER],
  meta,
  userName: 'a',
  title: 'T',
  name: { givenName: 'G', familyName: 'F' },
  emails: [{ type: 'work', value: 'w', primary: true }, { type: 'home', value: 'h' }],
  [SCHEMA_ENTERPRISE_USER]: { department: 'D', costCenter: 'C' },
};
const group = { id: 'g1', schemas: [SCHEMA_GROUP], meta: { ...meta, resourceType: 'Group' }, displayName: 'G', members: [{ value: 'u1' }] };

describe('project', () => {
  it('returns the resource unchanged without parameters', () => {
    expect(project(user, {})).toBe(user);
  });

  it('honours excludedAttributes=members', () => {
    expect(project(group, { excludedAttributes: 'members' })).toEqual({ id: 'g1', schemas: [SCHEMA_GROUP], meta: group.meta, displayName: 'G' });
    expect(group.members).toHaveLength(1);
  });

  it('returns only the listed attributes plus id, schemas and meta', () => {
    expect(project(user, { attributes: 'userName' })).toEqual({ id: 'u1', schemas: user.schemas, meta, userName: 'a' });
    expect(project(group, { attributes: 'id' })).toEqual({ id: 'g1', schemas: [SCHEMA_GROUP], meta: group.meta });
  });

  it('matches names case-insensitively and projects sub-attributes, also of multi-valued attributes', () => {
    const projected = project(user, { attributes: 'USERNAME, name.givenName,emails.value' });
    expect(projected).toMatchObject({ userName: 'a', name: { givenName: 'G' }, emails: [{ value: 'w' }, { value: 'h' }] });
    expect(projected.name).toEqual({ givenName: 'G' });
  });

  it('handles URN-qualified attributes and whole extensions', () => {
    expect(project(user, { attributes: `${SCHEMA_ENTERPRISE_USER}:department` })[SCHEMA_ENTERPRISE_USER]).toEqual({ department: 'D' });
    expect(project(user, { attributes: SCHEMA_ENTERPRISE_USER })[SCHEMA_ENTERPRISE_USER]).toEqual({ department: 'D', costCenter: 'C' });
    expect(project(user, { excludedAttributes: `${SCHEMA_ENTERPRISE_USER}:costCenter` })[SCHEMA_ENTERPRISE_USER]).toEqual({ department: 'D' });
    expect(project(user, { excludedAttributes: SCHEMA_ENTERPRISE_USER })).not.toHaveProperty(SCHEMA_ENTERPRISE_USER);
    expect(project(user, { attributes: 'urn:ietf:params:scim:schemas:core:2.0:User:userName' })).toHaveProperty('userName', 'a');
  });

  it('excludes sub-attributes and meta, but never id or schemas', () => {
    const projected = project(user, { excludedAttributes: 'name.familyName,emails.primary,id,schemas,meta' });
    expect(projected.name).toEqual({ givenName: 'G' });
    expect(projected.emails).toEqual([{ type: 'work', value: 'w' }, { type: 'home', value: 'h' }]);
    expect(projected).toHaveProperty('id', 'u1');
    expect(projected).toHaveProperty('schemas');
    expect(projected).not.toHaveProperty('meta');
    expect(user.name).toEqual({ givenName: 'G', familyName: 'F' });
  });
});
