import { foldCase } from '../store/index-entries.js';
import { badRequest } from './errors.js';
import { findKey, isPlainObject, resolveAll } from './filter-match.js';
import { describeAttribute } from './filter.js';
import { BUILT_IN_SCHEMAS, type SchemaRegistry } from './schema-registry.js';
import type { ResourceType, ScimResource } from './types.js';

/**
 * `sortBy` and `sortOrder` (RFC 7644 §3.4.2.3). Values sort by the attribute's type from the
 * schema: strings case-insensitively unless caseExact, dateTimes by instant, numbers by value.
 * A multi-valued attribute sorts by its primary value, else its first. Resources without the
 * attribute come last in either order, and ties keep the store's creation order.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.3
 */

export type SortKey = string | number | undefined;

export interface SortPlan {
  key(resource: ScimResource): SortKey;
  compare(a: SortKey, b: SortKey): number;
}

const SORT_PATH = /^(?:urn:[^\s[\]"]+:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?$/;

export function compileSort(type: ResourceType, sortBy: string, sortOrder: string | undefined, schemas: SchemaRegistry = BUILT_IN_SCHEMAS): SortPlan {
  const path = sortBy.trim();
  if (!SORT_PATH.test(path)) throw badRequest('invalidValue', 'sortBy must be an attribute path such as name.familyName');
  const order = (sortOrder ?? 'ascending').trim().toLowerCase();
  if (order !== 'ascending' && order !== 'descending') throw badRequest('invalidValue', 'sortOrder must be ascending or descending');
  const resolved = schemas.resolve(type, path);
  // An unqualified extension attribute (`department`) is read from its extension object.
  const readPath = resolved?.extension && !/^urn:/i.test(path) ? `${resolved.schema}:${path}` : path;
  const info = describeAttribute(type, readPath, schemas);
  const direction = order === 'ascending' ? 1 : -1;
  return {
    key(resource) {
      const value = pickValue(resolveAll(resource, readPath));
      if (value === undefined || value === null || typeof value === 'object') return undefined;
      switch (info?.type) {
        case 'dateTime':
          return finite(Date.parse(String(value)));
        case 'integer':
        case 'decimal':
          return finite(Number(value));
        case 'boolean':
          return value === true ? 1 : 0;
        default:
          return info?.caseExact ? String(value) : foldCase(String(value));
      }
    },
    compare(a, b) {
      if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
      if (a === b) return 0;
      return (a < b ? -1 : 1) * direction;
    },
  };
}

/** The value a (possibly multi-valued, possibly complex) attribute sorts by. */
function pickValue(values: unknown[]): unknown {
  const primary = values.find((value) => isPlainObject(value) && value[findKey(value, 'primary') ?? 'primary'] === true);
  const chosen = primary ?? values[0];
  return isPlainObject(chosen) ? chosen[findKey(chosen, 'value') ?? 'value'] : chosen;
}

function finite(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}
