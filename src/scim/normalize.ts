import { attributesOf, coreSchemaOf, findAttribute, type AttributeDefinition } from './discovery.js';
import { badRequest } from './errors.js';
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
 */
export function normalizeResource(type: ResourceType, body: unknown, schemas: SchemaRegistry = BUILT_IN_SCHEMAS): Record<string, unknown> {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'Request body must be a JSON object');
  const coreDefinitions = attributesOf(coreSchemaOf(type));
  const doc: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(body)) {
    if (SERVER_ASSIGNED.has(key.toLowerCase())) continue;
    const value = dropNulls(raw);
    if (value === undefined) continue;
    if (key.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase()) {
      const extension = normalizeEnterprise(value);
      if (extension !== undefined) doc[SCHEMA_ENTERPRISE_USER] = extension;
      continue;
    }
    // A declared extension is checked against its declaration later (extensions.ts).
    const extensionUrn = schemas.extensionUrn(type, key);
    if (extensionUrn !== undefined) {
      doc[extensionUrn] = value;
      continue;
    }
    const definition = findAttribute(coreDefinitions, key);
    doc[definition?.name ?? key] = definition ? canonicalValue(definition, value) : value;
  }
  doc.schemas = normalizeSchemas(type, doc.schemas, SCHEMA_ENTERPRISE_USER in doc);
  assertValidResource(type, doc);
  return doc;
}

function normalizeSchemas(type: ResourceType, schemas: unknown, hasEnterprise: boolean): string[] {
  if (schemas === undefined) return hasEnterprise ? [coreSchemaOf(type), SCHEMA_ENTERPRISE_USER] : [coreSchemaOf(type)];
  if (!Array.isArray(schemas) || !schemas.every((schema) => typeof schema === 'string')) {
    throw badRequest('invalidSyntax', 'schemas must be an array of strings');
  }
  return schemas;
}

function normalizeEnterprise(value: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) throw badRequest('invalidValue', `${SCHEMA_ENTERPRISE_USER} must be an object`);
  const definitions = attributesOf(SCHEMA_ENTERPRISE_USER);
  const extension: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const definition = findAttribute(definitions, key);
    const name = definition?.name ?? key;
    const normalized = name === 'manager' ? normalizeManager(raw) : definition ? canonicalValue(definition, raw) : raw;
    if (normalized !== undefined) extension[name] = normalized;
  }
  return extension;
}

/** Canonical sub-attribute names and coerced booleans inside one attribute's value. */
function canonicalValue(definition: AttributeDefinition, value: unknown): unknown {
  if (definition.type === 'boolean') return coerceBoolean(value);
  if (definition.type !== 'complex' || !definition.subAttributes) return value;
  const subAttributes = definition.subAttributes;
  const canonicalElement = (element: unknown): unknown => {
    if (!isPlainObject(element)) return element;
    const out: Record<string, unknown> = {};
    for (const [key, sub] of Object.entries(element)) {
      const subDefinition = findAttribute(subAttributes, key);
      out[subDefinition?.name ?? key] = subDefinition?.type === 'boolean' ? coerceBoolean(sub) : sub;
    }
    return out;
  };
  return Array.isArray(value) ? value.map(canonicalElement) : canonicalElement(value);
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
  if (!isPlainObject(single)) throw badRequest('invalidValue', 'manager must be an id string or an object with a value');
  const cleaned = dropNulls(single) as Record<string, unknown>;
  const valueKey = findKey(cleaned, 'value');
  const id = valueKey === undefined ? undefined : cleaned[valueKey];
  if (id === undefined || id === '') return undefined;
  if (typeof id !== 'string') throw badRequest('invalidValue', 'manager.value must be a string');
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
    if (typeof doc.userName !== 'string' || doc.userName.trim() === '') throw badRequest('invalidValue', 'userName is required');
    if (doc.active !== undefined && typeof doc.active !== 'boolean') throw badRequest('invalidValue', 'active must be a boolean');
  } else if (typeof doc.displayName !== 'string' || doc.displayName.trim() === '') {
    throw badRequest('invalidValue', 'displayName is required');
  }
}

const OPS = new Set(['add', 'replace', 'remove']);

/**
 * Normalises a PATCH body (RFC 7644 §3.5.2) into operations that each carry a path: ops are
 * lower-cased (Q1), path-less maps are expanded key by key, dotted and URN keys included (Q3),
 * booleans coerced (Q2), manager forms unified (Q6), `""`/null values become removes (Q15).
 */
export function normalizePatch(body: unknown, options: { maxPathLength?: number } = {}): NormalizedPatchOp[] {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'PATCH body must be a JSON object');
  const operationsKey = findKey(body, 'Operations');
  const operations = operationsKey === undefined ? undefined : body[operationsKey];
  if (!Array.isArray(operations) || operations.length === 0) {
    throw badRequest('invalidSyntax', 'PATCH body must have a non-empty Operations array');
  }
  return operations.flatMap((operation, index) => normalizeOperation(operation, index, options.maxPathLength ?? Infinity));
}

function normalizeOperation(operation: unknown, index: number, maxPathLength: number): NormalizedPatchOp[] {
  if (!isPlainObject(operation)) throw badRequest('invalidSyntax', `Operations[${index}] must be an object`);
  const field = (name: string): unknown => {
    const key = findKey(operation, name);
    return key === undefined ? undefined : operation[key];
  };
  const rawOp = field('op');
  const op = typeof rawOp === 'string' ? rawOp.toLowerCase() : undefined;
  if (op === undefined || !OPS.has(op)) throw badRequest('invalidSyntax', `Operations[${index}].op must be add, replace or remove`);
  const path = field('path');
  if (path !== undefined && path !== null && typeof path !== 'string') {
    throw badRequest('invalidSyntax', `Operations[${index}].path must be a string`);
  }
  const value = field('value');
  const kind = op as NormalizedPatchOp['op'];
  // Checked before the path is parsed or quoted in any detail: its length is the client's choice.
  const checkLength = (candidate: string) => {
    if (candidate.length > maxPathLength) {
      throw badRequest('invalidPath', `Operations[${index}]: attribute paths are at most ${maxPathLength} characters`);
    }
    return candidate;
  };
  if (typeof path === 'string' && path.trim() !== '') return [normalizePathOp(kind, checkLength(path.trim()), value, index)];
  if (kind === 'remove') throw badRequest('noTarget', `Operations[${index}]: remove requires a path`);
  if (!isPlainObject(value)) {
    throw badRequest('invalidSyntax', `Operations[${index}]: ${kind} without a path requires an object value`);
  }
  return expandPathless(value).map(([keyPath, keyValue]) => normalizePathOp(kind, checkLength(keyPath), keyValue, index));
}

/**
 * Path-less value maps (`{"name.givenName": "x", "urn:…:User:department": "y"}`) become one
 * `[path, value]` per key; a schema URN key holding an object is expanded one level further.
 */
function expandPathless(value: Record<string, unknown>): [string, unknown][] {
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

function normalizePathOp(op: NormalizedPatchOp['op'], rawPath: string, rawValue: unknown, index: number): NormalizedPatchOp {
  const parsed = parsePath(rawPath);
  const isManager =
    parsed.attribute.toLowerCase() === 'manager' &&
    parsed.subAttribute === undefined &&
    parsed.filter === undefined &&
    (parsed.urn === undefined || parsed.urn.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase());
  const path = isManager ? ENTERPRISE_MANAGER : rawPath;
  if (op === 'remove') {
    const value = dropNulls(rawValue);
    return value === undefined ? { op, path } : { op, path, value };
  }
  if (rawValue === undefined) throw badRequest('invalidSyntax', `Operations[${index}]: ${op} requires a value`);
  let value = dropNulls(rawValue);
  if (isManager) value = normalizeManager(value);
  else if (targetsBoolean(parsed.attribute, parsed.subAttribute, parsed.urn)) value = coerceBoolean(value);
  else value = coercePrimary(value);
  if (value === undefined || value === '') return { op: 'remove', path };
  return { op, path, value };
}

function targetsBoolean(attribute: string, subAttribute: string | undefined, urn: string | undefined): boolean {
  if (subAttribute !== undefined) return subAttribute.toLowerCase() === 'primary';
  return attribute.toLowerCase() === 'active' && (urn === undefined || isCoreSchema(urn));
}

/** Coerces `primary` (and a nested `active`) inside value objects and arrays. */
function coercePrimary(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(coercePrimary);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(value)) {
    const lower = key.toLowerCase();
    out[key] = lower === 'primary' || lower === 'active' ? coerceBoolean(sub) : coercePrimary(sub);
  }
  return out;
}
