import { operationAt, scimError } from './error-catalog.js';
import type { ScimError } from './errors.js';
import { findKey, isPlainObject } from './filter-match.js';
import type { ResourceType } from './types.js';

/**
 * The shape of a SCIM bulk request (RFC 7644 §3.7): parsing and limits of the request as a whole,
 * parsing of each operation (a bad operation fails alone, in its own slot of the response), and
 * `bulkId:` references, which let one operation name a resource another operation creates.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.7
 */

/** Most operations per bulk request, advertised as `bulk.maxOperations`. */
export const MAX_BULK_OPERATIONS = 1000;

export type BulkMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One operation as parsed; `problem` is set when it cannot run, and then it fails alone. */
export interface BulkOperation {
  index: number;
  method?: BulkMethod;
  bulkId?: string;
  type?: ResourceType;
  /** Resource id from the path; may be a `bulkId:` reference. */
  id?: string;
  data?: Record<string, unknown>;
  /** `version` of the operation: the ETag the resource must still have (PUT, PATCH, DELETE). */
  version?: string;
  /** bulkIds this operation references, in its path and anywhere in its data. */
  references: Set<string>;
  problem?: ScimError;
}

export interface BulkRequest {
  /** Stop after this many failed operations (RFC 7644 §3.7.3); undefined = never stop. */
  failOnErrors?: number;
  operations: BulkOperation[];
}

const BULK_REFERENCE = 'bulkId:';
const METHODS = new Set<BulkMethod>(['POST', 'PUT', 'PATCH', 'DELETE']);
const PATH = /^\/(users|groups)(?:\/([^/?#]+))?\/?$/i;

/** Parses a bulk request body; throws 400 for a malformed request and 413 over the operation limit. */
export function parseBulkRequest(body: unknown, maxOperations = MAX_BULK_OPERATIONS): BulkRequest {
  if (!isPlainObject(body)) throw scimError('BODY_NOT_OBJECT');
  const field = (name: string) => {
    const key = findKey(body, name);
    return key === undefined ? undefined : body[key];
  };
  const operations = field('Operations');
  if (!Array.isArray(operations)) throw scimError('BULK_NO_OPERATIONS');
  if (operations.length > maxOperations) {
    // RFC 7644 §3.7.4: over either bulk limit the answer is 413.
    throw scimError('BULK_TOO_MANY', { limit: maxOperations });
  }
  const failOnErrors = field('failOnErrors');
  if (failOnErrors !== undefined && failOnErrors !== null && (!Number.isSafeInteger(failOnErrors) || (failOnErrors as number) < 1)) {
    throw scimError('BULK_FAIL_ON_ERRORS');
  }
  const parsed = operations.map((operation, index) => parseOperation(operation, index));
  markDuplicateBulkIds(parsed);
  return { ...(typeof failOnErrors === 'number' ? { failOnErrors } : {}), operations: parsed };
}

function parseOperation(raw: unknown, index: number): BulkOperation {
  const operation: BulkOperation = { index, references: new Set() };
  const fail = (problem: ScimError) => ({ ...operation, problem });
  if (!isPlainObject(raw)) return fail(scimError('OPERATION_NOT_OBJECT', { operation: operationAt(index) }));
  const field = (name: string) => {
    const key = findKey(raw, name);
    return key === undefined ? undefined : raw[key];
  };
  const method = field('method');
  const upper = typeof method === 'string' ? method.toUpperCase() : undefined;
  if (upper === undefined || !METHODS.has(upper as BulkMethod)) {
    return fail(scimError('BULK_METHOD', { operation: operationAt(index) }));
  }
  operation.method = upper as BulkMethod;
  const bulkId = field('bulkId');
  if (bulkId !== undefined && (typeof bulkId !== 'string' || bulkId === '')) {
    return fail(scimError('BULK_ID_TYPE', { operation: operationAt(index) }));
  }
  if (typeof bulkId === 'string') operation.bulkId = bulkId;
  const version = field('version');
  if (typeof version === 'string' && version !== '') operation.version = version;

  const path = field('path');
  const match = typeof path === 'string' ? PATH.exec(path) : null;
  if (!match) return fail(scimError('BULK_PATH', { operation: operationAt(index) }));
  operation.type = match[1]?.toLowerCase() === 'users' ? 'User' : 'Group';
  const id = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
  if (operation.method === 'POST') {
    if (id !== undefined) return fail(scimError('BULK_POST_WITH_ID', { operation: operationAt(index) }));
    // RFC 7644 §3.7: bulkId is required on POST, so that the response can name what was created.
    if (operation.bulkId === undefined) return fail(scimError('BULK_ID_MISSING', { operation: operationAt(index) }));
  } else if (id === undefined) {
    return fail(scimError('BULK_NO_ID', { operation: operationAt(index), method: operation.method }));
  } else {
    operation.id = id;
    const reference = referenceOf(id);
    if (reference !== undefined) operation.references.add(reference);
  }

  const data = field('data');
  if (operation.method !== 'DELETE') {
    if (!isPlainObject(data)) return fail(scimError('BULK_DATA', { operation: operationAt(index) }));
    operation.data = data;
    collectReferences(data, operation.references);
  }
  return operation;
}

/** A later POST reusing a bulkId fails: references to it would be ambiguous. */
function markDuplicateBulkIds(operations: BulkOperation[]): void {
  const seen = new Set<string>();
  for (const operation of operations) {
    if (operation.problem || operation.method !== 'POST' || operation.bulkId === undefined) continue;
    if (seen.has(operation.bulkId)) operation.problem = scimError('BULK_ID_DUPLICATE', { operation: operationAt(operation.index) });
    seen.add(operation.bulkId);
  }
}

/** `bulkId:qwerty` → `qwerty`; anything else → undefined. */
export function referenceOf(value: string): string | undefined {
  return value.startsWith(BULK_REFERENCE) && value.length > BULK_REFERENCE.length ? value.slice(BULK_REFERENCE.length) : undefined;
}

function collectReferences(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') {
    const reference = referenceOf(value);
    if (reference !== undefined) into.add(reference);
  } else if (Array.isArray(value)) {
    for (const element of value) collectReferences(element, into);
  } else if (isPlainObject(value)) {
    for (const sub of Object.values(value)) collectReferences(sub, into);
  }
}

/** A copy of `value` with every `bulkId:x` string replaced by the id of the resource x created. */
export function resolveReferences<T>(value: T, ids: ReadonlyMap<string, string>): T {
  if (typeof value === 'string') {
    const reference = referenceOf(value);
    return (reference === undefined ? value : (ids.get(reference) ?? value)) as T;
  }
  if (Array.isArray(value)) return value.map((element: unknown) => resolveReferences(element, ids)) as T;
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, sub]) => [key, resolveReferences(sub, ids)])) as T;
  }
  return value;
}
