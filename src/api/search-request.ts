import { badRequest } from '../scim/errors.js';
import { isPlainObject } from '../scim/filter-match.js';

/**
 * A query's parameters, from the URL of `GET /Users` (RFC 7644 §3.4.2) or from the body of
 * `POST /.search` (§3.4.3, a SearchRequest). Both read the same fields; only the form differs:
 * strings in the query string, JSON values (`attributes` as a list) in the body.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.3
 */

export const SCHEMA_SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

export interface SearchRequest {
  filter?: string;
  sortBy?: string;
  sortOrder?: string;
  startIndex?: number;
  count?: number;
  attributes?: string;
  excludedAttributes?: string;
}

type Query = Record<string, string | string[] | undefined>;

export function searchFromQuery(query: Query): SearchRequest {
  const search: SearchRequest = {};
  for (const name of ['filter', 'sortBy', 'sortOrder', 'attributes', 'excludedAttributes'] as const) {
    const value = first(query[name]);
    if (value !== undefined && value !== '') search[name] = value;
  }
  for (const name of ['startIndex', 'count'] as const) {
    const value = integer(first(query[name]), name);
    if (value !== undefined) search[name] = value;
  }
  return search;
}

/** A SearchRequest body; its `schemas` is not checked strictly (clients often leave it out). */
export function searchFromBody(body: unknown): SearchRequest {
  if (body === undefined) return {};
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'a search request body must be a JSON object');
  const search: SearchRequest = {};
  for (const name of ['filter', 'sortBy', 'sortOrder'] as const) {
    const value = body[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw badRequest('invalidValue', `${name} must be a string`);
    search[name] = value;
  }
  for (const name of ['attributes', 'excludedAttributes'] as const) {
    const value = body[name];
    if (value === undefined || value === null) continue;
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      throw badRequest('invalidValue', `${name} must be a list of attribute names`);
    }
    if (list.length > 0) search[name] = list.join(',');
  }
  for (const name of ['startIndex', 'count'] as const) {
    const value = body[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' && typeof value !== 'string') throw badRequest('invalidValue', `${name} must be an integer`);
    const parsed = integer(String(value), name);
    if (parsed !== undefined) search[name] = parsed;
  }
  return search;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Paging numbers past this are all "beyond the last page"; it keeps them exact integers. */
const MAX_PAGING_NUMBER = 2 ** 31 - 1;

/**
 * An integer parameter. Out-of-range values are not errors (RFC 7644 §3.4.2.4 says how to read
 * them; the list layer clamps them); anything that is not an integer is a 400 invalidValue.
 */
function integer(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  // Digits only: `1e21` and `0x10` are numbers to Number() but not integers a client means.
  if (!/^[+-]?\d{1,20}$/.test(raw.trim())) throw badRequest('invalidValue', `${name} must be an integer`);
  return Math.max(-MAX_PAGING_NUMBER, Math.min(MAX_PAGING_NUMBER, Number(raw)));
}
