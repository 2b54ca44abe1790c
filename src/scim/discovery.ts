import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER, type ResourceType } from './types.js';

/**
 * Discovery documents (RFC 7643 §5–§8.7): what this bridge supports, so that Entra, Microsoft's
 * SCIM validator and other clients can read it from /ServiceProviderConfig, /ResourceTypes and
 * /Schemas. The schema definitions also give canonical attribute names for case-insensitive input.
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-8.7
 */

export interface AttributeDefinition {
  name: string;
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime' | 'decimal' | 'integer' | 'binary';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttributeDefinition[];
  canonicalValues?: string[];
  referenceTypes?: string[];
}

export interface SchemaDefinition {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'];
  id: string;
  name: string;
  description: string;
  attributes: AttributeDefinition[];
  meta: { resourceType: 'Schema'; location: string };
}

type AttributeOptions = Partial<Omit<AttributeDefinition, 'name' | 'description'>>;

function attr(name: string, description: string, options: AttributeOptions = {}): AttributeDefinition {
  return {
    name,
    type: 'string',
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}

function complex(name: string, description: string, subAttributes: AttributeDefinition[], options: AttributeOptions = {}): AttributeDefinition {
  return attr(name, description, { type: 'complex', subAttributes, ...options });
}

/** value/display/type/primary, the shape shared by emails, phoneNumbers, roles (RFC 7643 §2.4). */
function multiValued(name: string, description: string, types: string[], extra: AttributeDefinition[] = []): AttributeDefinition {
  return complex(
    name,
    description,
    [
      attr('value', `The ${name} value.`),
      attr('display', 'A human-readable name, primarily used for display purposes.'),
      attr('type', 'A label indicating the function of the value.', types.length > 0 ? { canonicalValues: types } : {}),
      attr('primary', 'Whether this is the preferred value.', { type: 'boolean' }),
      ...extra,
    ],
    { multiValued: true },
  );
}

const externalId = attr('externalId', 'Identifier of the resource as defined by the provisioning client.', { caseExact: true });

const USER_ATTRIBUTES: AttributeDefinition[] = [
  attr('userName', 'Unique identifier for the User, used to authenticate.', { required: true, uniqueness: 'server' }),
  complex('name', 'The components of the user\'s real name.', [
    attr('formatted', 'The full name, formatted for display.'),
    attr('familyName', 'The family name of the User.'),
    attr('givenName', 'The given name of the User.'),
    attr('middleName', 'The middle name(s) of the User.'),
    attr('honorificPrefix', 'The honorific prefix(es) of the User.'),
    attr('honorificSuffix', 'The honorific suffix(es) of the User.'),
  ]),
  attr('displayName', 'The name of the User, suitable for display to end-users.'),
  attr('nickName', 'The casual way to address the user.'),
  attr('title', 'The user\'s title, such as "Vice President".'),
  attr('preferredLanguage', 'The User\'s preferred written or spoken language.'),
  attr('active', 'The User\'s administrative status.', { type: 'boolean' }),
  multiValued('emails', 'Email addresses for the user.', ['work', 'home', 'other']),
  multiValued('phoneNumbers', 'Phone numbers for the User.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
  complex(
    'addresses',
    'A physical mailing address for this User.',
    [
      attr('formatted', 'The full mailing address, formatted for display.'),
      attr('streetAddress', 'The full street address component.'),
      attr('locality', 'The city or locality component.'),
      attr('region', 'The state or region component.'),
      attr('postalCode', 'The zip code or postal code component.'),
      attr('country', 'The country name component.'),
      attr('type', 'A label indicating the function of the address.', { canonicalValues: ['work', 'home', 'other'] }),
      attr('primary', 'Whether this is the preferred mailing address.', { type: 'boolean' }),
    ],
    { multiValued: true },
  ),
  multiValued('roles', 'A list of roles for the User.', []),
  externalId,
];

const ENTERPRISE_ATTRIBUTES: AttributeDefinition[] = [
  attr('employeeNumber', 'Numeric or alphanumeric identifier assigned to a person.'),
  attr('costCenter', 'Identifies the name of a cost center.'),
  attr('organization', 'Identifies the name of an organization.'),
  attr('division', 'Identifies the name of a division.'),
  attr('department', 'Identifies the name of a department.'),
  complex('manager', 'The User\'s manager.', [
    attr('value', 'The id of the SCIM resource representing the User\'s manager.', { caseExact: true }),
    attr('$ref', 'The URI of the SCIM resource representing the User\'s manager.', { type: 'reference', referenceTypes: ['User'] }),
    attr('displayName', 'The displayName of the User\'s manager.', { mutability: 'readOnly' }),
  ]),
];

const GROUP_ATTRIBUTES: AttributeDefinition[] = [
  attr('displayName', 'A human-readable name for the Group.', { required: true, uniqueness: 'server' }),
  complex(
    'members',
    'A list of members of the Group.',
    [
      attr('value', 'Identifier of the member of this Group.', { caseExact: true, mutability: 'immutable' }),
      attr('$ref', 'The URI of the member resource.', { type: 'reference', referenceTypes: ['User', 'Group'], mutability: 'immutable' }),
      attr('display', 'A human-readable name of the member.', { mutability: 'immutable' }),
      attr('type', 'The type of the member.', { canonicalValues: ['User', 'Group'], mutability: 'immutable' }),
    ],
    { multiValued: true },
  ),
  externalId,
];

const SCHEMA_SOURCES = [
  { id: SCHEMA_USER, name: 'User', description: 'User Account', attributes: USER_ATTRIBUTES },
  { id: SCHEMA_GROUP, name: 'Group', description: 'Group', attributes: GROUP_ATTRIBUTES },
  { id: SCHEMA_ENTERPRISE_USER, name: 'EnterpriseUser', description: 'Enterprise User', attributes: ENTERPRISE_ATTRIBUTES },
];

/** Attribute definitions by resource type and schema URN (core attributes under the core URN). */
export function attributesOf(schemaId: string): readonly AttributeDefinition[] {
  return SCHEMA_SOURCES.find((source) => source.id.toLowerCase() === schemaId.toLowerCase())?.attributes ?? [];
}

/** The definition named `name` (case-insensitive) among `definitions`, for canonical spelling. */
export function findAttribute(definitions: readonly AttributeDefinition[], name: string): AttributeDefinition | undefined {
  const lower = name.toLowerCase();
  return definitions.find((definition) => definition.name.toLowerCase() === lower);
}

/** The core schema URN of a resource type. */
export function coreSchemaOf(type: ResourceType): string {
  return type === 'User' ? SCHEMA_USER : SCHEMA_GROUP;
}

/** All schema definitions, for `GET /Schemas`. */
export function schemas(baseUrl: string): SchemaDefinition[] {
  return SCHEMA_SOURCES.map((source) => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: source.id,
    name: source.name,
    description: source.description,
    attributes: source.attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${source.id}` },
  }));
}

/** One schema definition for `GET /Schemas/{id}` (id compared case-insensitively), or undefined. */
export function getSchema(id: string, baseUrl = ''): SchemaDefinition | undefined {
  return schemas(baseUrl).find((schema) => schema.id.toLowerCase() === id.toLowerCase());
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
export function resourceTypes(baseUrl: string): ResourceTypeDefinition[] {
  const define = (name: ResourceType, endpoint: string, description: string, extensions: string[]): ResourceTypeDefinition => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: name,
    name,
    endpoint,
    description,
    schema: coreSchemaOf(name),
    schemaExtensions: extensions.map((schema) => ({ schema, required: false })),
    meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/${name}` },
  });
  return [define('User', '/Users', 'User Account', [SCHEMA_ENTERPRISE_USER]), define('Group', '/Groups', 'Group', [])];
}

/** One resource type for `GET /ResourceTypes/{name}` (case-insensitive), or undefined. */
export function getResourceType(name: string, baseUrl = ''): ResourceTypeDefinition | undefined {
  return resourceTypes(baseUrl).find((type) => type.name.toLowerCase() === name.toLowerCase());
}

/** Maximum resources returned by one filtered query, advertised in ServiceProviderConfig. */
export const MAX_FILTER_RESULTS = 200;

/** `GET /ServiceProviderConfig` (RFC 7643 §5): PATCH and filter yes; bulk, sort, password no. */
export function serviceProviderConfig(baseUrl: string): Record<string, unknown> {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_FILTER_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
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
