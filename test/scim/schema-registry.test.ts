import { describe, expect, it } from 'vitest';
import { loadConfigSource, ConfigError } from '../../src/config/load.js';
import { BUILT_IN_SCHEMAS, createSchemaRegistry } from '../../src/scim/schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER } from '../../src/scim/types.js';

/** The per-connection schema registry, and how config declares its extensions. */

const ACME = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
const registry = createSchemaRegistry([
  {
    id: ACME,
    resourceType: 'User',
    required: false,
    attributes: [
      { name: 'badge', type: 'integer', multiValued: false, caseExact: false, required: false, mutability: 'readWrite' },
      {
        name: 'site',
        type: 'complex',
        multiValued: false,
        caseExact: false,
        required: false,
        mutability: 'readWrite',
        subAttributes: [{ name: 'code', type: 'string', multiValued: false, caseExact: true, required: false, mutability: 'readWrite' }],
      },
    ],
  },
]);

describe('schema registry', () => {
  it('lists built-in schemas first, then declared ones', () => {
    expect(registry.all.map((s) => s.id)).toEqual([SCHEMA_USER, SCHEMA_GROUP, SCHEMA_ENTERPRISE_USER, ACME]);
    expect(registry.extensionsOf('User').map((s) => s.id)).toEqual([SCHEMA_ENTERPRISE_USER, ACME]);
    expect(registry.extensionsOf('Group')).toEqual([]);
    expect(BUILT_IN_SCHEMAS.get(ACME)).toBeUndefined();
  });

  it('resolves core, sub-attribute, enterprise and extension paths case-insensitively', () => {
    expect(registry.resolve('User', 'USERNAME')?.attribute.name).toBe('userName');
    expect(registry.resolve('User', 'emails.value')?.sub?.name).toBe('value');
    expect(registry.resolve('User', `${SCHEMA_USER}:name.givenName`)?.sub?.name).toBe('givenName');
    expect(registry.resolve('User', 'department')).toMatchObject({ schema: SCHEMA_ENTERPRISE_USER, extension: true });
    expect(registry.resolve('User', `${ACME.toUpperCase()}:Badge`)).toMatchObject({ schema: ACME, attribute: { type: 'integer' } });
    expect(registry.resolve('User', `${ACME}:site.code`)?.sub).toMatchObject({ caseExact: true });
    expect(registry.resolve('User', 'badge')?.schema).toBe(ACME);
    expect(registry.resolve('Group', `${ACME}:badge`)).toBeUndefined();
    expect(registry.resolve('User', 'nope')).toBeUndefined();
    expect(registry.resolve('User', 'name.nope')).toBeUndefined();
  });

  it('knows the extension URNs of each type', () => {
    expect(registry.extensionUrn('User', ACME.toLowerCase())).toBe(ACME);
    expect(registry.extensionUrn('Group', ACME)).toBeUndefined();
    expect(registry.extensionUrn('User', SCHEMA_USER)).toBeUndefined();
  });
});

describe('config extensions', () => {
  const config = (extensions: string) => `
connections:
  - id: acme
    auth: { bearer: ["\${env:S}"] }
    target: { baseUrl: http://127.0.0.1:1234 }
    mapping: m.yaml
    extensions:
${extensions}`;
  const problems = (extensions: string) => {
    try {
      loadConfigSource(config(extensions), '/etc/b.yaml', { env: { S: 's' } });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('accepts a declaration and fills the RFC defaults', () => {
    const loaded = loadConfigSource(config(`      - id: ${ACME}\n        attributes: [{ name: badge, type: integer }]`), '/etc/b.yaml', { env: { S: 's' } });
    expect(loaded.connections[0]?.extensions[0]).toMatchObject({
      id: ACME,
      resourceType: 'User',
      required: false,
      attributes: [{ name: 'badge', type: 'integer', multiValued: false, caseExact: false, required: false }],
    });
  });

  it.each([
    [`      - id: not-a-urn\n        attributes: [{ name: a, type: string }]`, 'must be a schema URN'],
    [`      - id: ${SCHEMA_ENTERPRISE_USER}\n        attributes: [{ name: a, type: string }]`, 'built in'],
    [`      - id: ${ACME}\n        attributes: [{ name: a, type: number }]`, 'type'],
    [`      - id: ${ACME}\n        attributes: [{ name: a, type: complex }]`, 'needs subAttributes'],
    [`      - id: ${ACME}\n        attributes: [{ name: a, type: string }, { name: A, type: string }]`, 'declared twice'],
    [`      - id: ${ACME}\n        attributes: [{ name: a, type: string }]\n      - id: ${ACME}\n        attributes: [{ name: b, type: string }]`, 'declared twice'],
  ])('rejects %j', (extensions, message) => {
    expect(problems(extensions)).toContain(message);
  });
});
