import type { ProxyRewrite } from '../config/schema.js';
import type { AttributeDefinition } from '../scim/core-schemas.js';
import { findAttribute } from '../scim/discovery.js';
import { findKey, isPlainObject } from '../scim/filter-match.js';
import { coerceBoolean, definitionsFor, dropNulls, expandPathless, normalizeManager } from '../scim/normalize.js';
import { parsePath, type ParsedPath } from '../scim/paths.js';
import type { SchemaRegistry } from '../scim/schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, type ResourceType } from '../scim/types.js';

/**
 * The named rewrites of a `mode: proxy` connection: each turns one Entra quirk
 * (docs/entra-traffic.md §4) into strict RFC 7644 before the request reaches a SCIM target that
 * would reject it. They reuse the bridge's own normaliser (src/scim/normalize.ts) piece by piece,
 * so the proxy and the bridge read Entra alike. Each is switchable per connection; all are pure
 * and never mutate their input. Anything they do not recognise passes unchanged: the target
 * stays the judge of what is valid.
 */

type Json = Record<string, unknown>;

/** The resource type a request is about, and the schemas (built-in and declared) of the connection. */
export interface RewriteContext {
  type: ResourceType | undefined;
  registry: SchemaRegistry;
}

/** POST/PUT body of a User or Group. */
export function rewriteResource(context: RewriteContext & { type: ResourceType }, body: unknown, enabled: ReadonlySet<ProxyRewrite>): unknown {
  const { type } = context;
  if (!isPlainObject(body)) return body;
  let doc: Json = body;
  if (enabled.has('dropNulls')) doc = dropNulls(doc) as Json;
  if (enabled.has('booleanStrings')) doc = coerceResourceBooleans(context.registry, type, doc);
  if (enabled.has('managerAsObject') && type === 'User') doc = managerAsObject(doc);
  return doc;
}

/** PATCH body (RFC 7644 §3.5.2). */
export function rewritePatch(context: RewriteContext, body: unknown, enabled: ReadonlySet<ProxyRewrite>): unknown {
  if (!isPlainObject(body)) return body;
  const key = findKey(body, 'Operations');
  const operations = key === undefined ? undefined : body[key];
  if (!Array.isArray(operations)) return body;
  let ops = operations.map((op): unknown => (isPlainObject(op) && enabled.has('lowercaseOps') ? lowercaseOp(op) : op));
  if (enabled.has('dropNulls')) ops = ops.map((op) => (isPlainObject(op) ? dropNullValue(op) : op));
  if (enabled.has('expandDottedPaths')) ops = ops.flatMap((op) => (isPlainObject(op) ? expandOp(op) : [op]));
  if (enabled.has('emptyValueAsRemove')) ops = ops.map((op) => (isPlainObject(op) ? emptyAsRemove(op) : op));
  if (enabled.has('booleanStrings')) ops = ops.map((op) => (isPlainObject(op) ? coerceOpBooleans(context, op) : op));
  if (enabled.has('managerAsObject')) ops = ops.map((op) => (isPlainObject(op) ? managerOp(op) : op));
  if (enabled.has('memberRemoveValueArray')) ops = ops.flatMap((op) => (isPlainObject(op) ? memberRemoves(op) : [op]));
  const { [key!]: _old, ...rest } = body;
  return { ...rest, Operations: ops };
}

/** A `?filter=` expression. Quoted values are never touched. */
export function rewriteFilter(filter: string, enabled: ReadonlySet<ProxyRewrite>): string {
  return mapUnquoted(filter, (text) => {
    let out = text;
    // `members eq "id"` compares a complex attribute; strict servers want its `value`.
    if (enabled.has('membersFilterValue')) out = out.replace(/\bmembers(\s+eq\s+)/gi, 'members.value$1');
    return out;
  }, (quoted, before) => {
    // `active eq "True"`: a quoted boolean for a boolean attribute.
    if (enabled.has('booleanStrings') && /\b(active|primary)\s+eq\s+$/i.test(before) && /^"(true|false)"$/i.test(quoted)) {
      return quoted.slice(1, -1).toLowerCase();
    }
    return quoted;
  });
}

function lowercaseOp(op: Json): Json {
  const key = findKey(op, 'op');
  const value = key === undefined ? undefined : op[key];
  if (key === undefined || typeof value !== 'string') return op;
  const { [key]: _old, ...rest } = op;
  return { op: value.toLowerCase(), ...rest };
}

function field(op: Json, name: string): unknown {
  const key = findKey(op, name);
  return key === undefined ? undefined : op[key];
}

function opName(op: Json): string {
  const value = field(op, 'op');
  return typeof value === 'string' ? value.toLowerCase() : '';
}

function pathOf(op: Json): string | undefined {
  const path = field(op, 'path');
  return typeof path === 'string' && path.trim() !== '' ? path.trim() : undefined;
}

function withValue(op: Json, value: unknown): Json {
  const key = findKey(op, 'value') ?? 'value';
  return { ...op, [key]: value };
}

function parsed(path: string): ParsedPath | undefined {
  try {
    return parsePath(path);
  } catch {
    return undefined;
  }
}

function dropNullValue(op: Json): Json {
  const key = findKey(op, 'value');
  if (key === undefined) return op;
  const value = op[key];
  // A null value of an add/replace is a clear (Q15); keep it for emptyValueAsRemove.
  if (value === null) return op;
  return { ...op, [key]: dropNulls(value) };
}

/** Path-less add/replace (Q3): one op per key, dotted and URN keys turned into paths. */
function expandOp(op: Json): Json[] {
  const value = field(op, 'value');
  if (pathOf(op) !== undefined || opName(op) === 'remove' || !isPlainObject(value)) return [op];
  const { [findKey(op, 'path') ?? 'path']: _path, [findKey(op, 'value')!]: _value, ...rest } = op;
  return expandPathless(value).map(([path, sub]) => ({ ...rest, path, value: sub }));
}

/** `""` or null as the value of an add/replace means "clear it" (Q15): a remove. */
function emptyAsRemove(op: Json): Json {
  const name = opName(op);
  const path = pathOf(op);
  const value = field(op, 'value');
  if ((name !== 'add' && name !== 'replace') || path === undefined || (value !== '' && value !== null)) return op;
  const opKey = findKey(op, 'op')!;
  const { [findKey(op, 'value')!]: _value, ...rest } = op;
  return { ...rest, [opKey]: 'remove' };
}

/** A quoted boolean written to a boolean attribute or sub-attribute, per the schemas. */
function coerceOpBooleans(context: RewriteContext, op: Json): Json {
  const valueKey = findKey(op, 'value');
  if (valueKey === undefined || opName(op) === 'remove' || context.type === undefined) return op;
  const value = op[valueKey];
  const path = pathOf(op);
  if (path === undefined) return isPlainObject(value) ? withValue(op, coerceResourceBooleans(context.registry, context.type, value)) : op;
  const target = parsed(path);
  if (!target) return op;
  const attribute = findAttribute(definitionsFor(context.registry, context.type, target.urn), target.attribute);
  if (!attribute) return op;
  if (target.subAttribute === undefined) return withValue(op, coerceAttribute(attribute, value));
  const sub = findAttribute(attribute.subAttributes ?? [], target.subAttribute);
  return sub ? withValue(op, coerceAttribute(sub, value)) : op;
}

/** Manager as a bare id or `[{ $ref, value }]` (Q6) becomes `{ value }`. */
function managerOp(op: Json): Json {
  const path = pathOf(op);
  const target = path === undefined ? undefined : parsed(path);
  if (!target || !isManagerPath(target) || opName(op) === 'remove') return op;
  const value = field(op, 'value');
  try {
    const manager = normalizeManager(value);
    return manager === undefined ? op : withValue(op, manager);
  } catch {
    return op;
  }
}

/**
 * Legacy member removal (Q4): `remove` on `members` with a value array becomes one
 * `remove members[value eq "<id>"]` per member, the only form RFC 7644 §3.5.2.2 defines.
 */
function memberRemoves(op: Json): Json[] {
  const path = pathOf(op);
  const value = field(op, 'value');
  if (opName(op) !== 'remove' || path?.toLowerCase() !== 'members' || !Array.isArray(value)) return [op];
  const ids = value.map((member) => (isPlainObject(member) ? field(member, 'value') : undefined));
  if (ids.length === 0 || !ids.every((id): id is string => typeof id === 'string')) return [op];
  const opKey = findKey(op, 'op')!;
  return ids.map((id) => ({ [opKey]: op[opKey], path: `members[value eq ${JSON.stringify(id)}]` }));
}

/** Booleans coerced wherever the schemas say boolean; every key, known or not, is kept. */
function coerceResourceBooleans(registry: SchemaRegistry, type: ResourceType, doc: Json): Json {
  const core = definitionsFor(registry, type, undefined);
  const out: Json = {};
  for (const [key, value] of Object.entries(doc)) {
    const extension = registry.extensionUrn(type, key);
    if (extension !== undefined && isPlainObject(value)) out[key] = coerceAttributes(definitionsFor(registry, type, extension), value);
    else {
      const definition = findAttribute(core, key);
      out[key] = definition ? coerceAttribute(definition, value) : value;
    }
  }
  return out;
}

function coerceAttributes(definitions: readonly AttributeDefinition[], value: Json): Json {
  const out: Json = {};
  for (const [key, sub] of Object.entries(value)) {
    const definition = findAttribute(definitions, key);
    out[key] = definition ? coerceAttribute(definition, sub) : sub;
  }
  return out;
}

/** One attribute's value (single or multi-valued, simple or complex) with its booleans coerced. */
function coerceAttribute(definition: AttributeDefinition, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((element) => coerceAttribute(definition, element));
  if (definition.type === 'boolean') return coerceBoolean(value);
  if (definition.type === 'complex' && definition.subAttributes && isPlainObject(value)) return coerceAttributes(definition.subAttributes, value);
  return value;
}

/** Whether a path names the enterprise `manager` as a whole (`manager` or its URN form). */
function isManagerPath(path: ParsedPath): boolean {
  return (
    path.attribute.toLowerCase() === 'manager' &&
    path.subAttribute === undefined &&
    path.filter === undefined &&
    (path.urn === undefined || path.urn.toLowerCase() === SCHEMA_ENTERPRISE_USER.toLowerCase())
  );
}

function managerAsObject(doc: Json): Json {
  const key = findKey(doc, SCHEMA_ENTERPRISE_USER);
  const extension = key === undefined ? undefined : doc[key];
  if (!isPlainObject(extension)) return doc;
  const managerKey = findKey(extension, 'manager');
  if (managerKey === undefined) return doc;
  let manager: unknown;
  try {
    manager = normalizeManager(extension[managerKey]);
  } catch {
    return doc;
  }
  const { [managerKey]: _old, ...rest } = extension;
  return { ...doc, [key!]: manager === undefined ? rest : { ...rest, manager } };
}

/**
 * Applies `unquoted` to the text between string literals and `quoted` to each literal (with the
 * unquoted text right before it), and joins them back. Linear in the input.
 */
function mapUnquoted(input: string, unquoted: (text: string) => string, quoted: (literal: string, before: string) => string): string {
  const parts = input.split(/("(?:[^"\\]|\\.)*")/s);
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 2 === 0) out += unquoted(part);
    else out += quoted(part, out);
  }
  return out;
}
