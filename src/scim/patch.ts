import {
  InvalidScimPatchOp,
  InvalidScimPatchRequest,
  InvalidScimRemoveValue,
  NoPathInScimPatchOp,
  NoTarget,
  scimPatch,
  ScimError as LibraryScimError,
  type ScimResource as LibraryResource,
} from 'scim-patch';
import type { Filter } from 'scim2-parse-filter';
import type { SchemaSource } from './core-schemas.js';
import { findAttribute, type AttributeDefinition } from './discovery.js';
import { scimError, type ScimErrorCode } from './error-catalog.js';
import { ScimError } from './errors.js';
import { findKey, isCoreSchema, isPlainObject, matchesFilter } from './filter-match.js';
import { assertValidResource, definitionsFor, isEmpty, withExtensionSchemas, type NormalizedPatchOp } from './normalize.js';
import { parsePath, type ParsedPath } from './paths.js';
import { BUILT_IN_SCHEMAS, type SchemaRegistry } from './schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, type MemberChange, type MemberDetails, type ResourceType, type ScimResource } from './types.js';

/**
 * Applies normalised PATCH operations (RFC 7644 §3.5.2) to a stored resource with scim-patch,
 * plus what Entra needs on top: filtered multi-valued paths are upserted (Q5), group members
 * become a MemberChange applied as set operations by the store (Q4), and removes on a filter
 * that matches nothing are no-ops. Filtered paths are resolved here rather than by scim-patch
 * because its filter compare is case-sensitive and it cannot merge into a missing element.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 */

export interface PatchResult {
  doc: ScimResource;
  /** Present when the PATCH touched group membership. */
  members?: MemberChange;
}

const READ_ONLY = new Set(['id', 'meta']);

export function applyPatch(type: ResourceType, doc: ScimResource, ops: readonly NormalizedPatchOp[], registry: SchemaRegistry = BUILT_IN_SCHEMAS): PatchResult {
  const members = createMemberAccumulator();
  // One private copy for all operations (scim-patch then changes it in place), instead of
  // scim-patch's own deep copy per operation. The stored document, possibly a frozen per-process
  // copy (recent-users.ts), is never changed.
  let current = cloneJson(doc);
  for (const op of ops) {
    const extension = registry.extensionUrn(type, op.path);
    if (extension !== undefined) {
      // normalizePatch leaves only the remove of a whole extension on its URN.
      current = removeKey(current, findKey(current, extension));
      continue;
    }
    const parsed = parsePath(op.path);
    const core = parsed.urn === undefined || isCoreSchema(parsed.urn);
    const attribute = parsed.attribute.toLowerCase();
    if (core && READ_ONLY.has(attribute)) {
      // Okta's group rename repeats the group's own id in a path-less replace: not a change.
      if (attribute === 'id' && op.op !== 'remove' && op.value === doc.id && parsed.subAttribute === undefined) continue;
      throw scimError('MUTABILITY', { attribute: parsed.attribute });
    }
    const definitions = definitionsFor(registry, type, parsed.urn);
    if (type === 'Group' && core && attribute === 'members') members.apply(op, parsed);
    else if (parsed.filter) current = applyFiltered(definitions, current, op, parsed, parsed.filter);
    else current = applyPlain(definitions, current, op, parsed);
  }
  current = withoutEmptyValues(current, registry.extensionsOf(type));
  assertValidResource(type, current);
  const change = members.result();
  return change ? { doc: current, members: change } : { doc: current };
}

/**
 * A deep copy of JSON data (what documents and PATCH values are), as a JSON round trip makes it
 * (an `undefined` property is left out, an `undefined` element becomes null) but several times
 * quicker. A `__proto__` key (JSON.parse makes it an own property) stays a plain key.
 */
function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((element: unknown) => (element === undefined ? null : cloneJson(element))) as T;
  if (typeof value !== 'object' || value === null) return value;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key];
    if (child === undefined) continue;
    if (key === '__proto__') Object.defineProperty(copy, key, { value: cloneJson(child), enumerable: true, writable: true, configurable: true });
    else copy[key] = cloneJson(child);
  }
  return copy as T;
}

function removeKey(doc: ScimResource, key: string | undefined): ScimResource {
  if (key === undefined) return doc;
  const { [key]: _removed, ...rest } = doc;
  return rest as ScimResource;
}

/**
 * The document without attributes a PATCH left empty (`[]`, `{}`, `""`: unassigned, RFC 7643
 * §2.5), including empty extensions, and with `schemas` listing exactly the extensions present.
 */
function withoutEmptyValues(doc: ScimResource, extensions: readonly SchemaSource[]): ScimResource {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    const extension = extensions.some((candidate) => candidate.id.toLowerCase() === key.toLowerCase());
    const cleaned = extension && isPlainObject(value) ? withoutEmptyAttributes(value) : value;
    if (key === 'schemas' || key === 'meta' || !isEmpty(cleaned)) out[key] = cleaned;
  }
  const result = out as ScimResource;
  return { ...result, schemas: withExtensionSchemas(result.schemas ?? [], result, extensions) };
}

function withoutEmptyAttributes(holder: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(holder).filter(([, value]) => !isEmpty(value)));
}

function holderKey(doc: Record<string, unknown>, urn: string): string {
  return findKey(doc, urn) ?? (urn.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase() ? SCHEMA_ENTERPRISE_USER : urn);
}

function applyPlain(definitions: readonly AttributeDefinition[], doc: ScimResource, op: NormalizedPatchOp, parsed: ParsedPath): ScimResource {
  const extension = parsed.urn !== undefined && !isCoreSchema(parsed.urn);
  const urnKey = extension ? holderKey(doc, parsed.urn as string) : undefined;
  const holder = urnKey === undefined ? doc : doc[urnKey];
  const holderObject = isPlainObject(holder) ? holder : {};
  const definition = findAttribute(definitions, parsed.attribute);
  const attributeKey = findKey(holderObject, parsed.attribute) ?? definition?.name ?? parsed.attribute;
  let path = urnKey === undefined ? attributeKey : `${urnKey}:${attributeKey}`;
  if (parsed.subAttribute !== undefined) {
    const current = holderObject[attributeKey];
    if (current !== undefined && !isPlainObject(current) && !Array.isArray(current)) {
      throw scimError('PATH_NO_SUB_ATTRIBUTES', { attribute: parsed.attribute });
    }
    const sample = Array.isArray(current) ? current.find(isPlainObject) : current;
    const subDefinition = definition?.subAttributes ? findAttribute(definition.subAttributes, parsed.subAttribute) : undefined;
    path += `.${(isPlainObject(sample) ? findKey(sample, parsed.subAttribute) : undefined) ?? subDefinition?.name ?? parsed.subAttribute}`;
  }
  // The value is copied too: a later operation of the same PATCH may change what this one
  // inserted, and the operations are applied again when a write retries.
  const operation = op.value === undefined ? { op: op.op, path } : { op: op.op, path, value: cloneJson(op.value) };
  try {
    const patched = scimPatch(doc as unknown as LibraryResource, [operation], { mutateDocument: true, treatMissingAsAdd: true });
    return patched as unknown as ScimResource;
  } catch (error) {
    throw toScimError(error, parsed.attribute);
  }
}

/** Maps scim-patch's error classes (and the TypeError it throws on a primitive parent) to ScimError. */
function toScimError(error: unknown, attribute: string): ScimError {
  if (error instanceof ScimError) return error;
  // The library's messages quote the submitted path and value, so only its error class is used.
  let code: ScimErrorCode;
  if (error instanceof NoTarget || error instanceof NoPathInScimPatchOp) code = 'PATH_NO_TARGET';
  else if (error instanceof InvalidScimRemoveValue) code = 'PATCH_REMOVE_VALUE';
  else if (error instanceof InvalidScimPatchRequest) code = 'PATCH_INVALID';
  else if (error instanceof InvalidScimPatchOp) code = /Invalid patch query/.test((error as Error).message ?? '') ? 'PATCH_INVALID_VALUE' : 'PATH_UNRESOLVED';
  else if (error instanceof LibraryScimError) code = 'PATCH_INVALID';
  else code = 'PATH_UNRESOLVED';
  return scimError(code, { attribute });
}

function applyFiltered(definitions: readonly AttributeDefinition[], doc: ScimResource, op: NormalizedPatchOp, parsed: ParsedPath, filter: Filter): ScimResource {
  // applyPatch's private copy, changed in place. The value is copied for each element it goes
  // into, so that no two places share it (see applyPlain).
  const next = doc;
  let holder: Record<string, unknown> = next;
  if (parsed.urn !== undefined && !isCoreSchema(parsed.urn)) {
    const key = holderKey(next, parsed.urn);
    const existing = next[key];
    if (!isPlainObject(existing)) {
      if (op.op === 'remove') return doc;
      next[key] = {};
    }
    holder = next[key] as Record<string, unknown>;
  }
  const definition = findAttribute(definitions, parsed.attribute);
  const key = findKey(holder, parsed.attribute) ?? definition?.name ?? parsed.attribute;
  const existing = holder[key];
  if (existing !== undefined && !Array.isArray(existing)) throw scimError('PATH_NOT_MULTI_VALUED', { attribute: parsed.attribute });
  const list = (existing ?? []) as unknown[];
  const matched = list.filter((element): element is Record<string, unknown> => isPlainObject(element) && matchesFilter(element, filter));
  const subName = (element: Record<string, unknown>): string | undefined => {
    if (parsed.subAttribute === undefined) return undefined;
    const subDefinition = definition?.subAttributes ? findAttribute(definition.subAttributes, parsed.subAttribute) : undefined;
    return findKey(element, parsed.subAttribute) ?? subDefinition?.name ?? parsed.subAttribute;
  };

  if (op.op === 'remove') {
    if (matched.length === 0) return doc;
    const wholeElement = parsed.subAttribute === undefined || parsed.subAttribute.toLowerCase() === 'value';
    const remaining = wholeElement ? list.filter((element) => !matched.includes(element as Record<string, unknown>)) : list;
    if (!wholeElement) for (const element of matched) delete element[subName(element) as string];
    if (remaining.length === 0) delete holder[key];
    else holder[key] = remaining;
    return next;
  }

  const targets = matched.length > 0 ? matched : [seedElement(filter, parsed.attribute, definition?.subAttributes ?? [])];
  for (const element of targets) {
    const sub = subName(element);
    if (sub !== undefined) element[sub] = cloneJson(op.value);
    else if (isPlainObject(op.value)) Object.assign(element, cloneJson(op.value));
    else throw scimError('OPERATION_VALUE_OBJECT', { op: op.op, attribute: parsed.attribute });
  }
  if (matched.length === 0) list.push(targets[0]);
  holder[key] = list;
  return next;
}

/**
 * The element to append when a filtered add/replace matches nothing (Q5): the filter's own
 * `eq` clauses (`type eq "work"` → `{ type: "work" }`). Any other filter cannot be upserted.
 */
function seedElement(filter: Filter, attribute: string, subAttributes: readonly AttributeDefinition[]): Record<string, unknown> {
  const clauses = filter.op === 'and' ? filter.filters : [filter];
  const element: Record<string, unknown> = {};
  for (const clause of clauses) {
    if (clause.op !== 'eq' || clause.attrPath.includes('.') || clause.attrPath.includes(':') || clause.compValue === null) {
      throw scimError('PATH_NO_TARGET', { attribute });
    }
    element[findAttribute(subAttributes, clause.attrPath)?.name ?? clause.attrPath] = clause.compValue;
  }
  return element;
}

interface MemberAccumulator {
  apply(op: NormalizedPatchOp, parsed: ParsedPath): void;
  result(): MemberChange | undefined;
}

/**
 * Folds member operations into one MemberChange, in order: a replace (or a value-less remove)
 * resets to a set, later adds and removes act on it; otherwise adds and removes accumulate and
 * the later of an add and a remove of the same id wins, as applying them one by one would.
 */
function createMemberAccumulator(): MemberAccumulator {
  let touched = false;
  let set: Set<string> | undefined;
  const add = new Set<string>();
  const remove = new Set<string>();
  const details: Record<string, MemberDetails> = {};

  const addMembers = (members: SentMember[]): void => {
    for (const { id, display } of members) {
      if (display !== undefined) details[id] = { display };
      if (set) set.add(id);
      else {
        remove.delete(id);
        add.add(id);
      }
    }
  };
  const removeIds = (ids: string[]): void => {
    for (const id of ids) {
      delete details[id];
      if (set) set.delete(id);
      else {
        add.delete(id);
        remove.add(id);
      }
    }
  };

  return {
    apply(op, parsed) {
      touched = true;
      if (parsed.subAttribute !== undefined) throw scimError('MEMBERS_PATH');
      if (parsed.filter) {
        if (op.op !== 'remove') throw scimError('MEMBERS_FILTER_OP');
        removeIds(memberIdsFromFilter(parsed.filter));
      } else if (op.op === 'add') addMembers(sentMembers(op.value));
      else if (op.op === 'replace') {
        set = new Set();
        for (const id of Object.keys(details)) delete details[id];
        addMembers(sentMembers(op.value));
      } else if (op.value === undefined) {
        set = new Set();
        for (const id of Object.keys(details)) delete details[id];
      } else removeIds(sentMembers(op.value).map((member) => member.id));
    },
    result() {
      if (!touched) return undefined;
      const withDetails = Object.keys(details).length > 0 ? { details: { ...details } } : {};
      if (set) return { kind: 'set', members: [...set], ...withDetails };
      return { kind: 'delta', add: [...add], remove: [...remove], ...withDetails };
    },
  };
}

interface SentMember {
  id: string;
  display?: string;
}

/** Members from a PATCH value: `[{ value, $ref?, display?, type? }]`, one such object, or `[]`. */
function sentMembers(value: unknown): SentMember[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((member) => {
    const field = (name: string): unknown => {
      const key = isPlainObject(member) ? findKey(member, name) : undefined;
      return key === undefined ? undefined : (member as Record<string, unknown>)[key];
    };
    const id = field('value');
    if (typeof id !== 'string' || id === '') throw scimError('MEMBER_VALUE');
    const display = field('display');
    return typeof display === 'string' && display !== '' ? { id, display } : { id };
  });
}

/** Ids from `members[value eq "x"]` (or several such clauses joined by `or`). */
function memberIdsFromFilter(filter: Filter): string[] {
  const clauses = filter.op === 'or' ? filter.filters : [filter];
  return clauses.map((clause) => {
    if (clause.op !== 'eq' || clause.attrPath.toLowerCase() !== 'value' || typeof clause.compValue !== 'string') {
      throw scimError('MEMBERS_FILTER');
    }
    return clause.compValue;
  });
}
