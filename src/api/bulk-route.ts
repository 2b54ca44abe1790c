import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { runBulk, type BulkOutcome } from '../provisioning/bulk.js';
import type { Provisioning } from '../provisioning/service.js';
import { parseBulkRequest } from '../scim/bulk.js';
import { scimErrorOf } from './scim-errors.js';

/**
 * `POST <base>/Bulk` (RFC 7644 §3.7): the request is parsed and limited as a whole, each
 * operation runs through the provisioning use cases, and the BulkResponse reports each one with
 * its status, `location` and `version`, or its SCIM error as `response`. The answer is 200 even
 * when operations failed; only a malformed or oversized request fails as a whole.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.7.3
 */

const SCHEMA_BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

export interface BulkRouteOptions {
  provisioning: Provisioning;
  baseUrlOf(request: FastifyRequest): string;
  send(reply: FastifyReply, status: number, body: unknown): FastifyReply;
}

export function registerBulkRoute(app: FastifyInstance, options: BulkRouteOptions): void {
  app.post('/Bulk', async (request, reply) => {
    const bulk = parseBulkRequest(request.body);
    const outcomes = await runBulk(options.provisioning, bulk, { requestId: request.id });
    const baseUrl = options.baseUrlOf(request);
    const operations = outcomes.map((outcome) => render(outcome, baseUrl, request));
    return options.send(reply, 200, { schemas: [SCHEMA_BULK_RESPONSE], Operations: operations });
  });
}

function render(outcome: BulkOutcome, baseUrl: string, request: FastifyRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (outcome.method !== undefined) out.method = outcome.method;
  if (outcome.bulkId !== undefined) out.bulkId = outcome.bulkId;
  if (outcome.error !== undefined) {
    const { status, body } = scimErrorOf(outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error)), request);
    if (status >= 500) request.log.error({ err: outcome.error, operation: outcome.index }, 'bulk operation failed');
    return { ...out, status: String(status), response: body };
  }
  if (outcome.resource) {
    const segment = outcome.resource.type === 'User' ? 'Users' : 'Groups';
    out.location = `${baseUrl}/${segment}/${outcome.resource.id}`;
    if (outcome.resource.revision !== undefined) out.version = `W/"${outcome.resource.revision}"`;
  }
  return { ...out, status: String(outcome.status) };
}
