import type { SchemaSource } from './core-schemas.js';
import { findAttribute, type AttributeDefinition } from './discovery.js';
import { operationAt, scimError } from './error-catalog.js';
import { findKey, isCoreSchema, isPlainObject } from './filter-match.js';
import { parsePath } from './paths.js';
import { BUILT_IN_SCHEMAS, type SchemaRegistry } from './schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, type ResourceType } from './types.js';

/**
 * Turns Entra's SCIM dialect into canonical SCIM before anything else sees it: string booleans,
 * manager as a bare string, explicit nulls, path-less PATCH maps with dotted and URN keys,
 * capitalised ops. Every quirk handled here is catalogued in docs/entra-traffic.md §4 (Q1–Q15).
 * Nothing here mutates its input.
 */

/** A PATCH operation after normalisation: lower-case op and always a path. */
export interface NormalizedPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

const SERVER_ASSIGNED = new Set(['id', 'meta']);

/**
 * Normalises a POST or PUT body. Client-supplied `id` and `meta` are ignored (server-assigned),
 * nulls are dropped (Q9), known attribute names get their canonical spelling (Q7), string
 * booleans are coerced (Q2) and `manager` becomes `{ value }` (Q6). Strings are never reformatted.
 * Attributes no schema of the resource defines, read-only ones and empty values are left out
 * (RFC 7643 §3 and §2.5: unassigned), so they are neither stored nor returned.
 */
export function normalizeResource(type: ResourceType, body: unknown, registry: SchemaRegistry = BUILT_IN_SCHEMAS): Record<string, unknown> {
  if (!isPlainObject(body)) throw scimError('BODY_NOT_OBJECT');
  const coreDefinitions = registry.coreOf(type).attributes;
  const doc: Record<string, unknown> = {};
  let schemas: unknown;
  for (const [key, raw] of Object.entries(body)) {
    const lower = key.toLowerCase();
    if (SERVER_ASSIGNED.has(lower)) continue;
    if (lower === 'schemas') {
      schemas = raw;
      continue;
    }
    const value = dropNulls(raw);
    if (value === undefined) continue;
    const extensionUrn = registry.extensionUrn(type, key);
    if (extensionUrn === SCHEMA_ENTERPRISE_USER) {
      const normalized = normalizeEnterprise(registry.attributesOf(extensionUrn), value);
      if (normalized !== undefined) doc[extensionUrn] = normalized;
      continue;
    }
    // A declared extension is checked against its declaration later (extensions.ts).
    if (extensionUrn !== undefined) {
      doc[extensionUrn] = value;
      continue;
    }
    const definition = findAttribute(coreDefinitions, key);
    if (!definition || definition.mutability === 'readOnly') continue;
    // `members: []` on a PUT empties the group, so it is kept; other empty values are unassigned.
    const canonical = canonicalValue(definition, value);
    if (definition.name === 'members' && type === 'Group') doc.members = Array.isArray(canonical) ? canonical : [];
    else if (!isEmpty(canonical)) doc[definition.name] = canonical;
  }
  doc.schemas = normalizeSchemas(type, schemas, doc, registry);
  assertValidResource(type, doc);
  return doc;
}

const EXTENSION_URN = /^urn:ietf:params:scim:schemas:extension:/i;

/**
 * The `schemas` list: as sent (other URNs such as Entra's ADSCIM group schema included, Q8),
 * the core schema when absent, and every extension the resource carries, which Entra leaves
 * out for custom extensions (docs §3.2) but RFC 7643 §3 requires. An extension this connection
 * does not declare is dropped with its attributes.
 */
function normalizeSchemas(type: ResourceType, schemas: unknown, doc: Record<string, unknown>, registry: SchemaRegistry): string[] {
  if (schemas !== undefined && schemas !== null && (!Array.isArray(schemas) || !schemas.every((schema) => typeof schema === 'string'))) {
    throw scimError('SCHEMAS_NOT_STRINGS');
  }
  const sent = Array.isArray(schemas) ? (schemas as string[]).filter((urn) => !EXTENSION_URN.test(urn) || registry.extensionUrn(type, urn)) : [];
  const list = sent.length > 0 ? sent : [registry.coreOf(type).id];
  return withExtensionSchemas(list, doc, registry.extensionsOf(type));
}

/** `schemas` listing exactly the extensions present in `doc`, other entries kept in order. */
export function withExtensionSchemas(schemas: readonly string[], doc: Record<string, unknown>, extensions: readonly SchemaSource[]): string[] {
  const isExtension = (urn: string) => extensions.some((extension) => extension.id.toLowerCase() === urn.toLowerCase());
  const kept = schemas.filter((urn) => !isExtension(urn) || doc[canonicalExtensionId(urn, extensions)] !== undefined);
  const listed = new Set(kept.map((urn) => urn.toLowerCase()));
  for (const extension of extensions) {
    if (doc[extension.id] !== undefined && !listed.has(extension.id.toLowerCase())) kept.push(extension.id);
  }
  return kept;
}

function canonicalExtensionId(urn: string, extensions: readonly SchemaSource[]): string {
  return extensions.find((extension) => extension.id.toLowerCase() === urn.toLowerCase())?.id ?? urn;
}

function normalizeEnterprise(definitions: readonly AttributeDefinition[], value: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) throw scimError('ATTRIBUTE_TYPE', { attribute: SCHEMA_ENTERPRISE_USER, expected: 'an object' });
  const extension: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const definition = findAttribute(definitions, key);
    if (!definition || definition.mutability === 'readOnly') continue;
    const normalized = definition.name === 'manager' ? normalizeManager(raw) : canonicalValue(definition, dropNulls(raw));
    if (!isEmpty(normalized)) extension[definition.name] = normalized;
  }
  return Object.keys(extension).length === 0 ? undefined : extension;
}

/** Unassigned in SCIM terms: absent, an empty string, an empty list or an empty complex value. */
export function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

/**
 * Canonical sub-attribute names and coerced booleans inside one attribute's value; sub-attributes
 * the definition does not know, and elements left empty by that, are dropped (RFC 7643 §3).
 */
export function canonicalValue(definition: AttributeDefinition, value: unknown): unknown {
  if (definition.type === 'boolean') return coerceBoolean(value);
  if (definition.type !== 'complex' || !definition.subAttributes) return value;
  const subAttributes = definition.subAttributes;
  const canonicalElement = (element: unknown): unknown => {
    if (!isPlainObject(element)) return element;
    const out: Record<string, unknown> = {};
    for (const [key, sub] of Object.entries(element)) {
      const subDefinition = findAttribute(subAttributes, key);
      if (!subDefinition || sub === undefined) continue;
      out[subDefinition.name] = subDefinition.type === 'boolean' ? coerceBoolean(sub) : sub;
    }
    return out;
  };
  if (!Array.isArray(value)) return canonicalElement(value);
  return value.map(canonicalElement).filter((element) => !isEmpty(element));
}

/** `"True"`, `"false"`, `"FALSE"` → boolean (Q2); anything else is returned unchanged. */
export function coerceBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return value;
}

/**
 * Manager as Entra sends it (Q6): a bare id string, `{ value }`, or `[{ $ref, value }]`, always
 * returned as `{ value }`: `$ref` points into the client and `displayName` is read-only (RFC 7643
 * §4.3). An empty value means "no manager" and gives undefined.
 */
export function normalizeManager(value: unknown): { value: string } | undefined {
  const single = Array.isArray(value) ? value[0] : value;
  if (single === undefined || single === null || single === '') return undefined;
  if (typeof single === 'string') return { value: single };
  if (!isPlainObject(single)) throw scimError('ATTRIBUTE_TYPE', { attribute: 'manager', expected: 'an id string or an object with a value' });
  const cleaned = dropNulls(single) as Record<string, unknown>;
  const valueKey = findKey(cleaned, 'value');
  const id = valueKey === undefined ? undefined : cleaned[valueKey];
  if (id === undefined || id === '') return undefined;
  if (typeof id !== 'string') throw scimError('ATTRIBUTE_TYPE', { attribute: 'manager.value', expected: 'a string' });
  return { value: id };
}

/** Removes null/undefined attributes, nulls inside complex values and null array elements (Q9). */
export function dropNulls(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.filter((element) => element !== null && element !== undefined).map(dropNulls);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(value)) {
    const cleaned = dropNulls(sub);
    if (cleaned !== undefined) out[key] = cleaned;
  }
  return out;
}

/**
 * The rules every stored resource satisfies, after a POST/PUT or a PATCH: users have a non-empty
 * `userName` and a boolean `active` if any; groups have a non-empty `displayName`.
 */
export function assertValidResource(type: ResourceType, doc: Record<string, unknown>): void {
  if (type === 'User') {
    if (typeof doc.userName !== 'string' || doc.userName.trim() === '') throw scimError('ATTRIBUTE_REQUIRED', { attribute: 'userName' });
    if (doc.active !== undefined && typeof doc.active !== 'boolean') throw scimError('ATTRIBUTE_TYPE', { attribute: 'active', expected: 'a boolean' });
  } else if (typeof doc.displayName !== 'string' || doc.displayName.trim() === '') {
    throw scimError('ATTRIBUTE_REQUIRED', { attribute: 'displayName' });
  }
}

const OPS = new Set(['add', 'replace', 'remove']);

/**
 * Normalises a PATCH body (RFC 7644 §3.5.2) into operations that each carry a path: ops are
 * lower-cased (Q1), path-less maps are expanded key by key, dotted and URN keys included (Q3),
 * booleans coerced (Q2), manager forms unified (Q6), `""`/null values become removes (Q15).
 * A path naming a whole extension (`urn:…:enterprise:2.0:User`) is expanded like a path-less
 * map (add and replace merge into the extension) or kept as a remove of the whole extension.
 * Operations on attributes no schema defines are dropped (RFC 7643 §3; never a 400, Q13).
 */
export function normalizePatch(
  type: ResourceType,
  body: unknown,
  registry: SchemaRegistry = BUILT_IN_SCHEMAS,
  options: { maxPathLength?: number } = {},
): NormalizedPatchOp[] {
  if (!isPlainObject(body)) throw scimError('BODY_NOT_OBJECT');
  const operationsKey = findKey(body, 'Operations');
  const operations = operationsKey === undefined ? undefined : body[operationsKey];
  if (!Array.isArray(operations) || operations.length === 0) {
    throw scimError('PATCH_NO_OPERATIONS');
  }
  const context: OperationContext = { type, registry, maxPathLength: options.maxPathLength ?? Infinity };
  return operations.flatMap((operation, index) => normalizeOperation(context, operation, index));
}

interface OperationContext {
  type: ResourceType;
  registry: SchemaRegistry;
  maxPathLength: number;
}

function normalizeOperation(context: OperationContext, operation: unknown, index: number): NormalizedPatchOp[] {
  if (!isPlainObject(operation)) throw scimError('OPERATION_NOT_OBJECT', { operation: operationAt(index) });
  const field = (name: string): unknown => {
    const key = findKey(operation, name);
    return key === undefined ? undefined : operation[key];
  };
  const rawOp = field('op');
  const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : undefined;
  if (op === undefined || !OPS.has(op)) throw scimError('OPERATION_OP', { operation: operationAt(index) });
  const path = field('path');
  if (path !== undefined && path !== null && typeof path !== 'string') {
    throw scimError('OPERATION_PATH_TYPE', { operation: operationAt(index) });
  }
  const value = field('value');
  const kind = op as NormalizedPatchOp['op'];
  // Checked before the path is parsed or quoted in any detail: its length is the client's choice.
  const checkLength = (candidate: string) => {
    if (candidate.length > context.maxPathLength) {
      throw scimError('OPERATION_PATH_LENGTH', { operation: operationAt(index), limit: context.maxPathLength });
    }
    return candidate;
  };
  const normalizeAll = (entries: [string, unknown][]) =>
    entries.flatMap(([keyPath, keyValue]) => normalizePathOp(context, kind, checkLength(keyPath), keyValue, index));
  if (typeof path === 'string' && path.trim() !== '') {
    const trimmed = checkLength(path.trim());
    const extension = context.registry.extensionUrn(context.type, trimmed);
    if (extension === undefined) return normalizePathOp(context, kind, trimmed, value, index);
    if (kind === 'remove') return [{ op: 'remove', path: extension }];
    if (!isPlainObject(value)) throw scimError('OPERATION_EXTENSION_VALUE', { operation: operationAt(index), op: kind, attribute: extension });
    return normalizeAll(Object.entries(value).map(([key, sub]): [string, unknown] => [`${extension}:${key}`, sub]));
  }
  if (kind === 'remove') throw scimError('OPERATION_REMOVE_NO_PATH', { operation: operationAt(index) });
  if (!isPlainObject(value)) {
    throw scimError('OPERATION_PATHLESS_VALUE', { operation: operationAt(index), op: kind });
  }
  return normalizeAll(expandPathless(value));
}

/**
 * Path-less value maps (`{"name.givenName": "x", "urn:…:User:department": "y"}`) become one
 * `[path, value]` per key; a schema URN key holding an object is expanded one level further.
 */
export function expandPathless(value: Record<string, unknown>): [string, unknown][] {
  return Object.entries(value).flatMap(([key, sub]): [string, unknown][] => {
    if (isSchemaUrn(key) && isPlainObject(sub)) {
      if (isCoreSchema(key)) return expandPathless(sub);
      return Object.entries(sub).map(([subKey, subValue]): [string, unknown] => [`${key}:${subKey}`, subValue]);
    }
    return [[key, sub]];
  });
}

/** A schema URN (as opposed to a URN-qualified attribute): known, or ending in `:User`/`:Group`. */
function isSchemaUrn(key: string): boolean {
  return /^urn:/i.test(key) && (isCoreSchema(key) || key.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase() || /:(user|group)$/i.test(key));
}

const ENTERPRISE_MANAGER = `${SCHEMA_ENTERPRISE_USER}:manager`;

/** The operation for one attribute path, or none when no schema defines that attribute. */
function normalizePathOp(context: OperationContext, op: NormalizedPatchOp['op'], rawPath: string, rawValue: unknown, index: number): NormalizedPatchOp[] {
  const parsed = parsePath(rawPath);
  const isManager =
    context.type === 'User' &&
    parsed.attribute.toLowerCase() === 'manager' &&
    parsed.subAttribute === undefined &&
    parsed.filter === undefined &&
    (parsed.urn === undefined || parsed.urn.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase());
  const serverAssigned = (parsed.urn === undefined || isCoreSchema(parsed.urn)) && SERVER_ASSIGNED.has(parsed.attribute.toLowerCase());
  // id and meta are no schema attributes, but a PATCH on them is an error (`mutability`), not a no-op.
  if (serverAssigned) return [rawValue === undefined ? { op, path: rawPath } : { op, path: rawPath, value: rawValue }];
  const target = isManager ? managerDefinition(context.registry) : definedTarget(context, parsed);
  if (target === undefined) return [];
  const path = isManager ? ENTERPRISE_MANAGER : rawPath;
  if (op === 'remove') {
    const value = dropNulls(rawValue);
    return [value === undefined ? { op, path } : { op, path, value }];
  }
  if (rawValue === undefined) throw scimError('OPERATION_NO_VALUE', { operation: operationAt(index), op });
  let value = dropNulls(rawValue);
  if (isManager) value = normalizeManager(value);
  else if (value !== undefined) value = canonicalTargetValue(target, parsed.filter !== undefined, value);
  if (value === undefined || value === '') return [{ op: 'remove', path }];
  // An empty list or object assigns nothing: a replace clears the attribute, an add is a no-op.
  if (isEmpty(value)) return op === 'replace' ? [{ op: 'remove', path }] : [];
  return [{ op, path, value }];
}

/** What a path writes: a whole attribute, or one sub-attribute of it. */
interface PathTarget {
  attribute: AttributeDefinition;
  subAttribute?: AttributeDefinition;
}

function managerDefinition(registry: SchemaRegistry): PathTarget | undefined {
  const attribute = findAttribute(registry.attributesOf(SCHEMA_ENTERPRISE_USER), 'manager');
  return attribute && { attribute };
}

/** The definitions a parsed path names, or undefined when it names an attribute no schema defines. */
function definedTarget(context: OperationContext, parsed: ReturnType<typeof parsePath>): PathTarget | undefined {
  const definitions = definitionsFor(context.registry, context.type, parsed.urn);
  const attribute = findAttribute(definitions, parsed.attribute);
  if (!attribute) return undefined;
  // A defined attribute addressed against its schema (a filter on a single value, a part of a
  // simple value) is a malformed path, not an unknown attribute.
  if (parsed.filter !== undefined && !attribute.multiValued) throw scimError('PATH_NOT_MULTI_VALUED', { attribute: attribute.name });
  if (parsed.subAttribute !== undefined && attribute.type !== 'complex') throw scimError('PATH_NO_SUB_ATTRIBUTES', { attribute: attribute.name });
  if (parsed.subAttribute === undefined) return { attribute };
  const subAttribute = findAttribute(attribute.subAttributes ?? [], parsed.subAttribute);
  return subAttribute && { attribute, subAttribute };
}

/** The value for a defined target: booleans coerced, unknown sub-attributes dropped. */
function canonicalTargetValue(target: PathTarget, filtered: boolean, value: unknown): unknown {
  if (target.subAttribute) return canonicalValue(target.subAttribute, value);
  // `emails[type eq "work"]` takes one element; an unfiltered multi-valued path takes one or many.
  if (filtered || (target.attribute.multiValued && !Array.isArray(value))) {
    const [element] = canonicalValue({ ...target.attribute, multiValued: true }, [value]) as unknown[];
    return element ?? {};
  }
  return canonicalValue(target.attribute, value);
}

/**
 * The attributes a path's schema URN defines for `type`: the core schema's when the path has no
 * URN or the core URN, a declared extension's, or none (the path names no schema of `type`).
 */
export function definitionsFor(registry: SchemaRegistry, type: ResourceType, urn: string | undefined): readonly AttributeDefinition[] {
  const core = registry.coreOf(type);
  if (urn === undefined || urn.toLowerCase() === core.id.toLowerCase()) return core.attributes;
  const extension = registry.extensionUrn(type, urn);
  return extension === undefined ? [] : registry.attributesOf(extension);
}
