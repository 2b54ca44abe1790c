import type { Filter } from 'scim2-parse-filter';
import { scimError } from './error-catalog.js';
import { findKey, isCoreSchema, isPlainObject, matchesFilter, parseFilterExpression } from './filter-match.js';

/**
 * SCIM attribute paths (RFC 7644 §3.10: `attrPath / valuePath [subAttr]`, optionally URN-qualified),
 * shared by PATCH, projection and the mapping engine's `from:` rules. scim2-parse-filter parses
 * only the filter between brackets; the path around it is split here.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.10
 */

export interface ParsedPath {
  /** Schema URN of an extension attribute (`urn:…:enterprise:2.0:User`), as written. */
  urn?: string;
  attribute: string;
  subAttribute?: string;
  /** Value filter of a multi-valued attribute (`emails[type eq "work"]`). */
  filter?: Filter;
}

const NAME = '[A-Za-z$][\\w$-]*';
const PATH = new RegExp(`^(${NAME})(?:\\[(.+)\\])?(?:\\.(${NAME}))?$`, 's');
const cache = new Map<string, ParsedPath>();
const CACHE_LIMIT = 1000;

/** Parses a SCIM attribute path; throws ScimError 400 invalidPath when it is malformed. */
export function parsePath(path: string): ParsedPath {
  const cached = cache.get(path);
  if (cached) return cached;
  const parsed = parseUncached(path);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(path, parsed);
  return parsed;
}

function parseUncached(path: string): ParsedPath {
  if (typeof path !== 'string' || path.trim() === '') throw scimError('PATH_EMPTY');
  let rest = path.trim();
  let urn: string | undefined;
  if (/^urn:/i.test(rest)) {
    const bracket = rest.indexOf('[');
    const colon = rest.lastIndexOf(':', bracket === -1 ? undefined : bracket);
    urn = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
  }
  const match = PATH.exec(rest);
  const attribute = match?.[1];
  if (!match || attribute === undefined) throw scimError('PATH_INVALID');
  const parsed: ParsedPath = { attribute };
  if (urn !== undefined) parsed.urn = urn;
  if (match[3] !== undefined) parsed.subAttribute = match[3];
  if (match[2] !== undefined) {
    try {
      parsed.filter = parseFilterExpression(match[2]);
    } catch {
      throw scimError('PATH_FILTER_INVALID', { attribute });
    }
  }
  return parsed;
}

/** The object holding the path's attribute: the resource itself, or its extension object. */
export function attributeHolder(resource: Record<string, unknown>, parsed: ParsedPath): Record<string, unknown> | undefined {
  if (parsed.urn === undefined || isCoreSchema(parsed.urn)) return resource;
  const key = findKey(resource, parsed.urn);
  const holder = key === undefined ? undefined : resource[key];
  return isPlainObject(holder) ? holder : undefined;
}

/**
 * Reads a value from a stored resource by SCIM path, for the mapping engine's `from:` rules.
 * Attribute names are case-insensitive; a filtered path gives the first matching element (or its
 * sub-attribute); `emails.value` without a filter gives the primary element's value, else the first.
 */
export function getValue(resource: Record<string, unknown>, path: string): unknown {
  const parsed = parsePath(path);
  const holder = attributeHolder(resource, parsed);
  if (!holder) return undefined;
  const key = findKey(holder, parsed.attribute);
  const value = key === undefined ? undefined : holder[key];
  if (value === undefined || value === null) return undefined;
  if (parsed.filter === undefined && parsed.subAttribute === undefined) return value;
  const element = pickElement(value, parsed.filter);
  if (parsed.subAttribute === undefined) return element;
  if (!isPlainObject(element)) return undefined;
  const subKey = findKey(element, parsed.subAttribute);
  return subKey === undefined ? undefined : element[subKey];
}

function pickElement(value: unknown, filter: Filter | undefined): unknown {
  if (!Array.isArray(value)) return filter ? undefined : value;
  if (filter) return value.find((element) => matchesFilter(element, filter));
  return value.find((element) => isPlainObject(element) && isPrimary(element)) ?? value[0];
}

function isPrimary(element: Record<string, unknown>): boolean {
  const key = findKey(element, 'primary');
  return key !== undefined && element[key] === true;
}
