import { SCHEMA_ENTERPRISE_USER, SCHEMA_GROUP, SCHEMA_USER, type ResourceType } from './types.js';

/**
 * The schemas every connection has (RFC 7643 §4): core User and Group, and the enterprise User
 * extension. Declared extensions are added per connection by the schema registry. The
 * definitions also give canonical attribute names for case-insensitive input.
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-4
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

type AttributeOptions = Partial<Omit<AttributeDefinition, 'name' | 'description'>>;

export function attr(name: string, description: string, options: AttributeOptions = {}): AttributeDefinition {
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
  attr('profileUrl', 'A fully qualified URL pointing to a page representing the User\'s online profile.', { type: 'reference', referenceTypes: ['external'] }),
  attr('title', 'The user\'s title, such as "Vice President".'),
  attr('userType', 'Used to identify the relationship between the organization and the user.'),
  attr('preferredLanguage', 'The User\'s preferred written or spoken language.'),
  attr('locale', 'The User\'s default location for localization, e.g. en-US.'),
  attr('timezone', 'The User\'s time zone in the IANA Time Zone database format, e.g. Europe/Berlin.'),
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
  multiValued('ims', 'Instant messaging addresses for the User.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
  multiValued('photos', 'URLs of photos of the User.', ['photo', 'thumbnail']),
  multiValued('entitlements', 'A list of entitlements for the User that represent a thing the User has.', []),
  multiValued('roles', 'A list of roles for the User.', []),
  multiValued('x509Certificates', 'A list of certificates issued to the User.', []),
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

/** The built-in schemas, in the order /Schemas lists them. */
export const BUILT_IN_SCHEMA_SOURCES: readonly SchemaSource[] = [
  { id: SCHEMA_USER, name: 'User', description: 'User Account', resourceType: 'User', extension: false, attributes: USER_ATTRIBUTES },
  { id: SCHEMA_GROUP, name: 'Group', description: 'Group', resourceType: 'Group', extension: false, attributes: GROUP_ATTRIBUTES },
  { id: SCHEMA_ENTERPRISE_USER, name: 'EnterpriseUser', description: 'Enterprise User', resourceType: 'User', extension: true, attributes: ENTERPRISE_ATTRIBUTES },
];

/** A schema with its attributes, built in or declared for a connection. */
export interface SchemaSource {
  id: string;
  name: string;
  description: string;
  resourceType: ResourceType;
  /** True for extensions (attributes under the URN key), false for core schemas (top level). */
  extension: boolean;
  attributes: readonly AttributeDefinition[];
}
