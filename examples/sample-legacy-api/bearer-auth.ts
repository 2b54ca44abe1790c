import type { FastifyInstance } from 'fastify';
import { secretsMatch } from './secret-compare.js';

/**
 * Requires `Authorization: Bearer <token>` on every route except `/healthz`, answering
 * `401 {"error":"unauthorized"}` otherwise. The token is compared in constant time.
 */
export function requireBearerToken(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url === '/healthz') return;
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    if (presented !== undefined && secretsMatch(presented, token)) return;
    return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' });
  });
}
