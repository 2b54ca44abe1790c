import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AdminConfig } from '../config/schema.js';
import { OpsConflictError, OpsNotFoundError, type JobListState, type Ops } from '../ops/service.js';
import { sendAdminError } from './errors.js';

/**
 * The admin API, `/admin/api`: JSON over the ops use cases (ops/service.ts), for scripts and for
 * anyone who prefers curl to the dashboard. Documented route by route in docs/operations.md.
 * Changes (retry, discard) need the matching `admin.allow` switch, like the dashboard's buttons.
 */

export interface AdminApiOptions {
  admin: AdminConfig;
  ops: Ops;
}

const LIST_STATES = new Set<JobListState>(['failed', 'waiting', 'active', 'delayed', 'completed']);

interface ConnectionParams {
  connection: string;
}
interface JobParams extends ConnectionParams {
  jobId: string;
}

export async function adminApiPlugin(app: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const { ops, admin } = options;

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof OpsNotFoundError) return sendAdminError(reply, 404, 'not_found', error.message);
    if (error instanceof OpsConflictError) return sendAdminError(reply, 409, 'conflict', error.message);
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return sendAdminError(reply, status, 'bad_request', (error as Error).message);
    request.log.error({ err: (error as Error).message }, 'admin API failed');
    return sendAdminError(reply, 503, 'unavailable', `the request failed (request id ${request.id}); is Redis reachable?`);
  });

  const allowed = (reply: FastifyReply, what: 'retry' | 'clean'): boolean => {
    if (admin.allow[what]) return true;
    void sendAdminError(reply, 403, 'forbidden', `the configuration does not allow this (admin.allow.${what})`);
    return false;
  };

  app.get('/connections', async () => ({ connections: await ops.connections() }));

  app.get<{ Params: ConnectionParams }>('/connections/:connection', async (request) => ops.connection(request.params.connection));

  app.get<{ Params: ConnectionParams; Querystring: { state?: string; start?: string; count?: string } }>(
    '/connections/:connection/jobs',
    async (request, reply) => {
      const state = (request.query.state ?? 'failed') as JobListState;
      if (!LIST_STATES.has(state)) return sendAdminError(reply, 400, 'bad_request', `state must be one of ${[...LIST_STATES].join(', ')}`);
      const start = toInt(request.query.start, 0);
      const count = toInt(request.query.count, 50);
      if (start === undefined || count === undefined) return sendAdminError(reply, 400, 'bad_request', 'start and count must be non-negative integers');
      return ops.jobs(request.params.connection, { state, start, count });
    },
  );

  app.get<{ Params: JobParams }>('/connections/:connection/jobs/:jobId', async (request) => ops.job(request.params.connection, request.params.jobId));

  app.post<{ Params: ConnectionParams }>('/connections/:connection/jobs/retry', async (request, reply) => {
    if (!allowed(reply, 'retry')) return reply;
    return ops.retryAll(request.params.connection);
  });

  app.post<{ Params: JobParams }>('/connections/:connection/jobs/:jobId/retry', async (request, reply) => {
    if (!allowed(reply, 'retry')) return reply;
    return ops.retry(request.params.connection, request.params.jobId);
  });

  app.delete<{ Params: JobParams }>('/connections/:connection/jobs/:jobId', async (request, reply) => {
    if (!allowed(reply, 'clean')) return reply;
    await ops.discard(request.params.connection, request.params.jobId);
    return reply.code(204).send();
  });

  app.get<{ Params: ConnectionParams; Querystring: { q?: string } }>('/connections/:connection/trace', async (request, reply) => {
    const query = request.query.q?.trim();
    if (!query || query.length > 512) return sendAdminError(reply, 400, 'bad_request', 'give ?q=<SCIM id, userName, externalId or displayName> (at most 512 characters)');
    return ops.trace(request.params.connection, query);
  });
}

function toInt(value: string | undefined, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  return /^\d{1,6}$/.test(value) ? Number(value) : undefined;
}
