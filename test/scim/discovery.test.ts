import { describe, expect, it } from 'vitest';
import { getResourceType, getSchema, resourceTypes, schemas, serviceProviderConfig } from '../../src/scim/discovery.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER } from '../../src/scim/types.js';

const baseUrl = 'https://bridge.example.com/acme/scim/v2';

describe('serviceProviderConfig', () => {
  it('advertises patch, filter (200) and etag; no bulk, sort or password change; bearer auth', () => {
    const config = serviceProviderConfig(baseUrl);
    expect(config).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true, maxResults: 200 },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
      authenticationSchemes: [{ type: 'oauthbearertoken' }],
      meta: { location: `${baseUrl}/ServiceProviderConfig` },
    });
  });
});

describe('resourceTypes', () => {
  it('lists User (with the enterprise extension) and Group', () => {
    expect(resourceTypes(baseUrl).map((t) => [t.name, t.endpoint, t.schema])).toEqual([
      ['User', '/Users', SCHEMA_USER],
      ['Group', '/Groups', SCHEMA_GROUP],
    ]);
    expect(getResourceType('user', baseUrl)?.schemaExtensions).toEqual([{ schema: SCHEMA_ENTERPRISE_USER, required: false }]);
    expect(getResourceType('Device', baseUrl)).toBeUndefined();
  });
});

describe('schemas', () => {
  const attribute = (schemaId: string, name: string) => getSchema(schemaId, baseUrl)?.attributes.find((a) => a.name === name);

  it('defines core User, Group and EnterpriseUser with their locations', () => {
    expect(schemas(baseUrl).map((s) => s.id)).toEqual([SCHEMA_USER, SCHEMA_GROUP, SCHEMA_ENTERPRISE_USER]);
    expect(getSchema(SCHEMA_USER.toUpperCase(), baseUrl)?.meta.location).toBe(`${baseUrl}/Schemas/${SCHEMA_USER}`);
    expect(getSchema('urn:nope', baseUrl)).toBeUndefined();
  });

  it('marks userName and group displayName unique on the server and not case-exact', () => {
    expect(attribute(SCHEMA_USER, 'userName')).toMatchObject({ required: true, uniqueness: 'server', caseExact: false });
    expect(attribute(SCHEMA_GROUP, 'displayName')).toMatchObject({ uniqueness: 'server' });
  });

  it('covers the attributes Entra maps by default', () => {
    const names = (id: string) => getSchema(id, baseUrl)?.attributes.map((a) => a.name);
    expect(names(SCHEMA_USER)).toEqual(expect.arrayContaining(['userName', 'name', 'displayName', 'nickName', 'title', 'preferredLanguage', 'active', 'emails', 'phoneNumbers', 'addresses', 'roles', 'externalId']));
    expect(names(SCHEMA_ENTERPRISE_USER)).toEqual(['employeeNumber', 'costCenter', 'organization', 'division', 'department', 'manager']);
    expect(names(SCHEMA_GROUP)).toEqual(['displayName', 'members', 'externalId']);
    expect(attribute(SCHEMA_USER, 'active')?.type).toBe('boolean');
    expect(attribute(SCHEMA_USER, 'addresses')?.subAttributes?.map((a) => a.name)).toContain('streetAddress');
  });
});
