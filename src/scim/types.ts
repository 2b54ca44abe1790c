/**
 * SCIM resource shapes shared by every layer. The bridge stores what Entra sent (after
 * normalisation), so these types are deliberately open: any attribute may be present.
 * @see https://www.rfc-editor.org/rfc/rfc7643
 */

export type ResourceType = 'User' | 'Group';

export const SCHEMA_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCHEMA_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const SCHEMA_ENTERPRISE_USER = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const SCHEMA_PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCHEMA_LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCHEMA_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export interface ScimMeta {
  resourceType: ResourceType;
  created: string;
  lastModified: string;
  /** Absolute URL of the resource; added when rendering, never stored. */
  location?: string;
  /** Weak ETag built from the revision, e.g. `W/"3"`. */
  version?: string;
}

/** A stored SCIM resource. For groups, `members` is kept apart from the document (see store). */
export interface ScimResource {
  id: string;
  schemas: string[];
  meta: ScimMeta;
  [attribute: string]: unknown;
}

/** One group member as SCIM represents it. `value` is the member's SCIM id in this bridge. */
export interface MemberRef {
  value: string;
  display?: string;
  type?: ResourceType;
  $ref?: string | null;
}

/** A PATCH operation as received, before normalisation (op casing and values are untrusted). */
export interface RawPatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

/** What a group keeps about a member besides its id (RFC 7643 §4.2), when there is any. */
export interface MemberDetails {
  display?: string;
  type?: ResourceType;
}

/**
 * How a write changes a group's membership. Membership is applied as set operations in the
 * store so that concurrent PATCHes on one group never lose a member. `details` holds the
 * display and type of added members that have any: a set replaces every member's details, an
 * add replaces those of the members it names.
 */
export type MemberChange =
  | { kind: 'delta'; add: string[]; remove: string[]; details?: Record<string, MemberDetails> }
  | { kind: 'set'; members: string[]; details?: Record<string, MemberDetails> };
