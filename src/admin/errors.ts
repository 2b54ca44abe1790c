import type { FastifyReply } from 'fastify';

/**
 * The one error shape of the ops routes (admin API, dashboard login, protected /metrics):
 * `{"status": 401, "error": "unauthorized", "detail": "…"}` as `application/json`. `error` is a
 * stable key for scripts; `detail` is for people and never carries secrets or attribute values.
 */

export type AdminErrorKey = 'unauthorized' | 'too_many_requests' | 'forbidden' | 'not_allowed' | 'not_found' | 'bad_request' | 'conflict' | 'unavailable';

export interface AdminErrorBody {
  status: number;
  error: AdminErrorKey;
  detail: string;
}

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly key: AdminErrorKey,
    detail: string,
  ) {
    super(detail);
  }
}

export function sendAdminError(reply: FastifyReply, status: number, key: AdminErrorKey, detail: string): FastifyReply {
  const body: AdminErrorBody = { status, error: key, detail };
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}
