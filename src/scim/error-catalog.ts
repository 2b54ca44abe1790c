import { ScimError, type ScimType } from './errors.js';

/**
 * The catalogue of SCIM errors: each code fixes the status, the scimType and the template of the
 * `detail`. Parameters (`{name}` in a template) are names the server knows (canonical attribute
 * names, `Operations[n]` positions, resource types, HTTP methods), numbers and operator-written
 * texts (a mapping `validate:` rule's detail) — never a value the client submitted and never a
 * whole submitted path (a path's value filter holds values). So no error body can echo a user
 * name or an email, and nothing has to be scrubbed afterwards.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.12
 */

type Entry = readonly [status: number, scimType: ScimType | undefined, detail: string];

/**
 * Every SCIM error the bridge answers. `{name}` marks a parameter. Parameters are attribute
 * names (already validated as SCIM names), `Operations[n]` positions, resource types, HTTP
 * methods, numbers and texts written by the operator (mapping `validate:` details) — never a
 * submitted value or a whole submitted path (a path's value filter holds values).
 */
export const SCIM_ERRORS = {
  // The request as a whole.
  BODY_NOT_JSON: [400, 'invalidSyntax', 'request body is not valid JSON'],
  BODY_NOT_OBJECT: [400, 'invalidSyntax', 'request body must be a JSON object'],
  BODY_EMPTY: [400, 'invalidSyntax', 'request body is empty or malformed'],
  BODY_INVALID: [400, 'invalidSyntax', 'request body does not match the expected shape'],
  BODY_TOO_LARGE: [413, undefined, 'request body is larger than {limit} bytes'],
  QUERY_NOT_INTEGER: [400, 'invalidValue', '{parameter} must be an integer'],
  UNAUTHORIZED: [401, undefined, 'missing or invalid bearer token'],
  NO_ENDPOINT: [404, undefined, 'no SCIM endpoint at this path for {method}'],
  NOT_IMPLEMENTED_ME: [501, undefined, '/Me is not supported: this service provider authenticates provisioning clients, not users'],
  STORE_UNAVAILABLE: [503, undefined, 'the bridge cannot store changes right now; retry later'],
  INTERNAL: [500, undefined, 'internal error (request {requestId})'],

  RESOURCE_BUSY: [503, undefined, 'the resource is being changed by other requests; retry later'],

  // Resources.
  RESOURCE_NOT_FOUND: [404, undefined, '{type} not found'],
  ID_TOO_LONG: [404, undefined, 'not found: no resource has an id longer than {limit} characters'],
  RESOURCE_TYPE_NOT_FOUND: [404, undefined, 'no such resource type'],
  SCHEMA_NOT_FOUND: [404, undefined, 'no such schema'],
  UNIQUENESS: [409, 'uniqueness', '{attribute} is already in use by another {type}'],
  SCHEMAS_NOT_STRINGS: [400, 'invalidSyntax', 'schemas must be an array of strings'],
  ATTRIBUTE_REQUIRED: [400, 'invalidValue', '{attribute} is required'],
  ATTRIBUTE_TYPE: [400, 'invalidValue', '{attribute} must be {expected}'],
  ATTRIBUTE_SINGLE_VALUED: [400, 'invalidValue', '{attribute} is single-valued'],
  ATTRIBUTE_MULTI_VALUED: [400, 'invalidValue', '{attribute} is multi-valued and must be an array'],
  MUTABILITY: [400, 'mutability', '{attribute} cannot be changed'],
  RULE_FAILED: [400, 'invalidValue', '{rules}'],
  MEMBER_SELF: [400, 'invalidValue', 'a group cannot be a member of itself'],
  MEMBER_MISSING: [400, 'invalidValue', '{count} member(s) do not exist'],
  MEMBER_VALUE: [400, 'invalidValue', 'each member needs a non-empty string value'],
  MEMBER_ID_LENGTH: [400, 'invalidValue', 'member ids are at most {limit} characters'],
  TARGET_DUPLICATE: [409, 'uniqueness', 'the target application refused the {what} as a duplicate (HTTP 409)'],
  TARGET_REJECTED: [400, 'invalidValue', 'the target application rejected the {what} (HTTP {status})'],

  // PATCH.
  PATCH_NO_OPERATIONS: [400, 'invalidSyntax', 'PATCH body must have a non-empty Operations array'],
  OPERATION_NOT_OBJECT: [400, 'invalidSyntax', '{operation} must be an object'],
  OPERATION_OP: [400, 'invalidSyntax', '{operation}.op must be add, replace or remove'],
  OPERATION_PATH_TYPE: [400, 'invalidSyntax', '{operation}.path must be a string'],
  OPERATION_REMOVE_NO_PATH: [400, 'noTarget', '{operation}: remove requires a path'],
  OPERATION_PATHLESS_VALUE: [400, 'invalidSyntax', '{operation}: {op} without a path requires an object value'],
  OPERATION_NO_VALUE: [400, 'invalidSyntax', '{operation}: {op} requires a value'],
  OPERATION_PATH_LENGTH: [400, 'invalidPath', '{operation}: attribute paths are at most {limit} characters'],
  OPERATION_EXTENSION_VALUE: [400, 'invalidValue', '{operation}: {op} on {attribute} requires an object value'],
  OPERATION_VALUE_OBJECT: [400, 'invalidValue', '{op} on {attribute} needs an object value'],
  PATH_EMPTY: [400, 'invalidPath', 'path must be a non-empty string'],
  PATH_INVALID: [400, 'invalidPath', 'path is not a valid SCIM attribute path'],
  PATH_FILTER_INVALID: [400, 'invalidPath', 'the value filter of the path on {attribute} is not valid'],
  PATH_NO_SUB_ATTRIBUTES: [400, 'invalidPath', '{attribute} has no sub-attributes'],
  PATH_NOT_MULTI_VALUED: [400, 'invalidPath', '{attribute} is not multi-valued'],
  PATH_UNRESOLVED: [400, 'invalidPath', 'the path on {attribute} cannot be resolved'],
  PATH_NO_TARGET: [400, 'noTarget', 'no element of {attribute} matches the path and the filter cannot create one'],
  PATCH_INVALID: [400, 'invalidSyntax', 'the operation on {attribute} is not valid'],
  PATCH_INVALID_VALUE: [400, 'invalidValue', 'the value for {attribute} is not valid'],
  PATCH_REMOVE_VALUE: [400, 'invalidValue', 'the remove value for {attribute} matches nothing it can remove'],
  MEMBERS_PATH: [400, 'invalidPath', 'members cannot be changed through a sub-attribute path'],
  MEMBERS_FILTER_OP: [400, 'invalidPath', 'members can only be removed by filter'],
  MEMBERS_FILTER: [400, 'invalidPath', 'a members filter must be value eq "…", optionally joined by or'],

  // Filters.
  FILTER_EMPTY: [400, 'invalidFilter', 'filter is empty'],
  FILTER_INVALID: [400, 'invalidFilter', 'filter cannot be parsed'],
  FILTER_NESTED: [400, 'invalidFilter', 'a value filter cannot contain another one (on {attribute})'],
  FILTER_ATTRIBUTE: [400, 'invalidFilter', 'filter names an invalid attribute path'],
  FILTER_COMPARISON: [400, 'invalidFilter', '{op} on {attribute}: {reason}'],

  // Bulk.
  BULK_NO_OPERATIONS: [400, 'invalidSyntax', 'a bulk request needs an Operations array'],
  BULK_TOO_MANY: [413, 'tooMany', 'a bulk request may have at most {limit} operations'],
  BULK_FAIL_ON_ERRORS: [400, 'invalidValue', 'failOnErrors must be an integer of at least 1'],
  BULK_METHOD: [400, 'invalidSyntax', '{operation}.method must be POST, PUT, PATCH or DELETE'],
  BULK_ID_TYPE: [400, 'invalidSyntax', '{operation}.bulkId must be a non-empty string'],
  BULK_ID_MISSING: [400, 'invalidSyntax', '{operation}: POST requires a bulkId'],
  BULK_ID_DUPLICATE: [400, 'invalidValue', '{operation}.bulkId is used by an earlier operation'],
  BULK_PATH: [400, 'invalidPath', '{operation}.path must be /Users, /Groups, /Users/<id> or /Groups/<id>'],
  BULK_POST_WITH_ID: [400, 'invalidPath', '{operation}: POST goes to /Users or /Groups, without an id'],
  BULK_NO_ID: [400, 'invalidPath', '{operation}: {method} needs a resource id in its path'],
  BULK_DATA: [400, 'invalidSyntax', '{operation}.data must be an object'],
  BULK_REFERENCE_UNKNOWN: [400, 'invalidValue', '{operation} references a bulkId that no successful POST of this request defines'],
  BULK_REFERENCE_CYCLE: [409, undefined, '{operation} is part of a circular bulkId reference'],
} as const satisfies Record<string, Entry>;

export type ScimErrorCode = keyof typeof SCIM_ERRORS;

/** Parameters of a detail template: server-known names and numbers only (see SCIM_ERRORS). */
export type ScimErrorParams = Readonly<Record<string, string | number>>;

/** The catalogued error `code`, its detail filled with `params`. */
export function scimError(code: ScimErrorCode, params: ScimErrorParams = {}, headers: Record<string, string> = {}): ScimError {
  const [status, scimType, template] = SCIM_ERRORS[code] as Entry;
  return new ScimError(status, scimType, renderDetail(template, params), headers, { code, params });
}

/** `{name}` → its parameter; a placeholder without a parameter stays as written. */
export function renderDetail(template: string, params: ScimErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) => (Object.hasOwn(params, name) ? String(params[name]) : placeholder));
}

/** `Operations[3]`: how details name one operation of a PATCH or bulk request. */
export const operationAt = (index: number): string => `Operations[${index}]`;
