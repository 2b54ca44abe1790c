import { BUILT_IN_SCHEMAS, findDefinition, type SchemaRegistry } from './schema-registry.js';
import type { AttributeDefinition } from './core-schemas.js';
import { SCHEMA_GROUP, SCHEMA_USER, type ResourceType } from './types.js';

export type { AttributeDefinition } from './core-schemas.js';

/**
 * Discovery documents (RFC 7643 §5–§8.7): what this bridge supports, so that Entra, Microsoft's
 * SCIM validator and other clients can read it from /ServiceProviderConfig, /ResourceTypes and
 * /Schemas. The schemas come from the connection's schema registry (built-in plus declared
 * extensions).
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-8.7
 */

export interface SchemaDefinition {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'];
  id: string;
  name: string;
  description: string;
  attributes: readonly AttributeDefinition[];
  meta: { resourceType: 'Schema'; location: string };
}

/** Attribute definitions by resource type and schema URN (core attributes under the core URN). */
export function attributesOf(schemaId: string, registry: SchemaRegistry = BUILT_IN_SCHEMAS): readonly AttributeDefinition[] {
  return registry.attributesOf(schemaId);
}

/** The definition named `name` (case-insensitive) among `definitions`, for canonical spelling. */
export function findAttribute(definitions: readonly AttributeDefinition[], name: string): AttributeDefinition | undefined {
  return findDefinition(definitions, name);
}

/** The core schema URN of a resource type. */
export function coreSchemaOf(type: ResourceType): string {
  return type === 'User' ? SCHEMA_USER : SCHEMA_GROUP;
}

/** All schema definitions, for `GET /Schemas`. */
export function schemas(baseUrl: string, registry: SchemaRegistry = BUILT_IN_SCHEMAS): SchemaDefinition[] {
  return registry.all.map((source) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: source.id,
    name: source.name,
    description: source.description,
    attributes: source.attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${source.id}` },
  }));
}

/** One schema definition for `GET /Schemas/{id}` (id compared case-insensitively), or undefined. */
export function getSchema(id: string, baseUrl = '', registry: SchemaRegistry = BUILT_IN_SCHEMAS): SchemaDefinition | undefined {
  return schemas(baseUrl, registry).find((schema) => schema.id.toLowerCase() === id.toLowerCase());
}

export interface ResourceTypeDefinition {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'];
  id: ResourceType;
  name: ResourceType;
  endpoint: string;
  description: string;
  schema: string;
  schemaExtensions: { schema: string; required: boolean }[];
  meta: { resourceType: 'ResourceType'; location: string };
}

/** Both resource types, for `GET /ResourceTypes` (RFC 7643 §6). */
export function resourceTypes(baseUrl: string, registry: SchemaRegistry = BUILT_IN_SCHEMAS): ResourceTypeDefinition[] {
  const define = (name: ResourceType, endpoint: string, description: string): ResourceTypeDefinition => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: name,
    name,
    endpoint,
    description,
    schema: coreSchemaOf(name),
    schemaExtensions: registry.extensionsOf(name).map((extension) => ({ schema: extension.id, required: extension.required })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${name}` },
  });
  return [define('User', '/Users', 'User Account'), define('Group', '/Groups', 'Group')];
}

/** One resource type for `GET /ResourceTypes/{name}` (case-insensitive), or undefined. */
export function getResourceType(name: string, baseUrl = '', registry: SchemaRegistry = BUILT_IN_SCHEMAS): ResourceTypeDefinition | undefined {
  return resourceTypes(baseUrl, registry).find((type) => type.name.toLowerCase() === name.toLowerCase());
}

/** Maximum resources returned by one filtered query, advertised in ServiceProviderConfig. */
export const MAX_FILTER_RESULTS = 200;

/** What the provider enforces, advertised in ServiceProviderConfig. */
export interface ProviderLimits {
  bulk: { maxOperations: number; maxPayloadSize: number };
}

/** `GET /ServiceProviderConfig` (RFC 7643 §5): PATCH, bulk and filter yes; sort, password no. */
export function serviceProviderConfig(baseUrl: string, limits?: ProviderLimits): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups',
    patch: { supported: true },
    bulk: limits ? { supported: true, ...limits.bulk } : { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_FILTER_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'Authentication with a bearer token: a long-lived secret token or one from the OAuth 2.0 client credentials grant.',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}
