import { resolveReferences, type BulkOperation, type BulkRequest } from '../scim/bulk.js';
import { operationAt, scimError } from '../scim/error-catalog.js';
import { ScimError } from '../scim/errors.js';
import type { ResourceType } from '../scim/types.js';
import type { StoredResource } from '../store/types.js';
import type { ChangeContext, Provisioning } from './service.js';

/**
 * Runs a parsed bulk request (RFC 7644 §3.7) through the same use cases as single requests, so
 * every operation gets the same validation, store writes and delivery jobs. Operations run in
 * request order, except that one naming `bulkId:x` waits until the POST that defines x has run;
 * operations that can only wait for each other (a cycle) fail with 409 instead of guessing.
 * Processing stops after `failOnErrors` failures, and at the first failure that is not the
 * client's (Redis down): later operations would fail the same way.
 */

export interface BulkOutcome {
  index: number;
  method?: string;
  bulkId?: string;
  /** HTTP status of the operation as a single request would have had it. */
  status: number;
  /** The resource written or deleted (its revision only when it still exists); absent on failure. */
  resource?: { type: ResourceType; id: string; revision?: number };
  /** Why the operation failed; rendered as a SCIM error body by the HTTP layer. */
  error?: unknown;
}

/** `context` is the bulk request's: every operation's jobs and timeline events carry its request id. */
export async function runBulk(provisioning: Provisioning, request: BulkRequest, context: ChangeContext = {}): Promise<BulkOutcome[]> {
  const definedBy = new Map<string, BulkOperation>();
  for (const operation of request.operations) {
    if (!operation.problem && operation.method === 'POST' && operation.bulkId !== undefined) definedBy.set(operation.bulkId, operation);
  }
  const created = new Map<string, string>();
  const pending = new Set(request.operations);
  const outcomes: BulkOutcome[] = [];
  let failures = 0;

  const finish = (outcome: BulkOutcome): boolean => {
    outcomes.push(outcome);
    if (outcome.error === undefined) return true;
    failures += 1;
    const clientError = outcome.error instanceof ScimError && outcome.error.status < 500;
    return clientError && (request.failOnErrors === undefined || failures < request.failOnErrors);
  };
  /** A reference this operation must wait for: defined by a POST that has not run yet. */
  const waitsFor = (operation: BulkOperation) =>
    [...operation.references].some((reference) => {
      const definer = definedBy.get(reference);
      return definer !== undefined && pending.has(definer);
    });

  while (pending.size > 0) {
    let progressed = false;
    for (const operation of pending) {
      if (waitsFor(operation)) continue;
      pending.delete(operation);
      progressed = true;
      if (!finish(await runOne(provisioning, operation, created, context))) return sorted(outcomes);
    }
    if (!progressed) {
      for (const operation of pending) {
        const error = scimError('BULK_REFERENCE_CYCLE', { operation: operationAt(operation.index) });
        if (!finish(failed(operation, error))) break;
      }
      break;
    }
  }
  return sorted(outcomes);
}

async function runOne(provisioning: Provisioning, operation: BulkOperation, created: Map<string, string>, context: ChangeContext): Promise<BulkOutcome> {
  if (operation.problem) return failed(operation, operation.problem);
  const unresolved = [...operation.references].find((reference) => !created.has(reference));
  if (unresolved !== undefined) {
    return failed(operation, scimError('BULK_REFERENCE_UNKNOWN', { operation: operationAt(operation.index) }));
  }
  const type = operation.type as ResourceType;
  const id = operation.id === undefined ? undefined : resolveReferences(operation.id, created);
  const data = operation.data === undefined ? undefined : resolveReferences(operation.data, created);
  const done = (status: number, stored?: StoredResource): BulkOutcome => ({
    ...describe(operation),
    status,
    resource: stored ? { type, id: stored.id, revision: stored.revision } : { type, id: id as string },
  });
  // `version` is the operation's If-Match (RFC 7644 §3.7): 412 when the resource moved on.
  const conditions = operation.version === undefined ? {} : { ifMatch: operation.version };
  try {
    switch (operation.method) {
      case 'POST': {
        const stored = await provisioning.create(type, data, context);
        if (operation.bulkId !== undefined) created.set(operation.bulkId, stored.id);
        return done(201, stored);
      }
      case 'PUT':
        return done(200, await provisioning.replace(type, id as string, data, conditions, context));
      case 'PATCH':
        return done(type === 'Group' ? 204 : 200, await provisioning.patch(type, id as string, data, conditions, context));
      default:
        await provisioning.remove(type, id as string, conditions, context);
        return done(204);
    }
  } catch (error) {
    return failed(operation, error);
  }
}

function describe(operation: BulkOperation): Pick<BulkOutcome, 'index' | 'method' | 'bulkId'> {
  return {
    index: operation.index,
    ...(operation.method ? { method: operation.method } : {}),
    ...(operation.bulkId !== undefined ? { bulkId: operation.bulkId } : {}),
  };
}

function failed(operation: BulkOperation, error: unknown): BulkOutcome {
  return { ...describe(operation), status: error instanceof ScimError ? error.status : 500, error };
}

function sorted(outcomes: BulkOutcome[]): BulkOutcome[] {
  return outcomes.sort((a, b) => a.index - b.index);
}
