import type { AttributeDefinition } from './core-schemas.js';
import { scimError } from './error-catalog.js';
import { findKey, isPlainObject } from './filter-match.js';
import { findDefinition, type SchemaRegistry } from './schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, type ResourceType } from './types.js';

/**
 * Checks and canonicalises a resource's declared-extension objects against their declarations
 * (config `extensions:`), after a POST/PUT body is normalised and after a PATCH is applied, so
 * nothing of the wrong type is ever stored: a wrong type is a 400 invalidValue, undeclared
 * attributes inside a declared extension are ignored (RFC 7643 §3), names get their declared
 * spelling and Entra's string booleans (`"True"`) become booleans. `schemas` lists exactly the
 * extensions the resource carries. Built-in schemas are handled by normalize.ts.
 */
export function applyDeclaredExtensions<T extends Record<string, unknown>>(type: ResourceType, doc: T, registry: SchemaRegistry): T {
  const out: Record<string, unknown> = { ...doc };
  for (const extension of registry.extensionsOf(type)) {
    if (extension.id === SCHEMA_ENTERPRISE_USER) continue; // built in, normalised by normalize.ts
    const key = findKey(out, extension.id);
    const raw = key === undefined ? undefined : out[key];
    if (key !== undefined) delete out[key];
    if (raw === undefined || raw === null) {
      if (extension.required) throw scimError('ATTRIBUTE_REQUIRED', { attribute: extension.id });
      continue;
    }
    if (!isPlainObject(raw)) throw scimError('ATTRIBUTE_TYPE', { attribute: extension.id, expected: 'an object' });
    const value = checkAttributes(extension.attributes, raw, extension.id);
    if (Object.keys(value).length > 0 || extension.required) out[extension.id] = value;
  }
  out.schemas = schemasFor(type, out, registry);
  return out as T;
}

function checkAttributes(definitions: readonly AttributeDefinition[], value: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(value)) {
    const definition = findDefinition(definitions, key);
    if (!definition || sub === null || sub === undefined) continue;
    const checked = checkValue(definition, sub, `${prefix}:${definition.name}`);
    if (checked !== undefined) out[definition.name] = checked;
  }
  for (const definition of definitions) {
    if (definition.required && out[definition.name] === undefined) throw scimError('ATTRIBUTE_REQUIRED', { attribute: `${prefix}:${definition.name}` });
  }
  return out;
}

function checkValue(definition: AttributeDefinition, value: unknown, path: string): unknown {
  if (!definition.multiValued) {
    if (Array.isArray(value)) throw scimError('ATTRIBUTE_SINGLE_VALUED', { attribute: path });
    return checkSingle(definition, value, path);
  }
  if (!Array.isArray(value)) throw scimError('ATTRIBUTE_MULTI_VALUED', { attribute: path });
  const elements = value.filter((element) => element !== null && element !== undefined).map((element) => checkSingle(definition, element, path));
  // An empty multi-valued attribute is unassigned (RFC 7643 §2.4).
  return elements.length === 0 ? undefined : elements;
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function checkSingle(definition: AttributeDefinition, value: unknown, path: string): unknown {
  const fail = (expected: string) => scimError('ATTRIBUTE_TYPE', { attribute: path, expected });
  switch (definition.type) {
    case 'string':
    case 'reference':
    case 'binary':
      if (typeof value !== 'string') throw fail('a string');
      return value;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && ['true', 'false'].includes(value.toLowerCase())) return value.toLowerCase() === 'true';
      throw fail('a boolean');
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw fail('an integer');
      return value;
    case 'decimal':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw fail('a number');
      return value;
    case 'dateTime':
      if (typeof value !== 'string' || !DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) throw fail('an xsd:dateTime such as 2024-05-01T12:00:00Z');
      return value;
    case 'complex': {
      if (!isPlainObject(value)) throw fail('an object');
      const checked = checkAttributes(definition.subAttributes ?? [], value, path);
      return Object.keys(checked).length === 0 ? undefined : checked;
    }
    default:
      return value;
  }
}

/**
 * `schemas` as RFC 7643 §3 wants it: the core URN, then each extension the resource carries.
 * Entra does not list custom extension URNs ("the custom extension schema header isn't sent"),
 * so they are added; unknown URNs the client listed are kept as sent.
 */
function schemasFor(type: ResourceType, doc: Record<string, unknown>, registry: SchemaRegistry): string[] {
  const core = registry.coreOf(type).id;
  const extensions = new Map(registry.extensionsOf(type).map((e) => [e.id.toLowerCase(), e.id]));
  const given = Array.isArray(doc.schemas) ? (doc.schemas as unknown[]).filter((s): s is string => typeof s === 'string') : [];
  const out: string[] = [];
  const add = (urn: string) => {
    if (!out.some((seen) => seen.toLowerCase() === urn.toLowerCase())) out.push(urn);
  };
  if (!given.some((urn) => urn.toLowerCase() === core.toLowerCase())) add(core);
  for (const urn of given) {
    const extension = extensions.get(urn.toLowerCase());
    if (extension === undefined) add(urn);
    else if (doc[extension] !== undefined) add(extension);
  }
  for (const extension of extensions.values()) if (doc[extension] !== undefined) add(extension);
  return out;
}
