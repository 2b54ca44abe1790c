import type { FastifyInstance } from 'fastify';
import { secretsMatch } from '../sample-legacy-api/secret-compare.js';

/**
 * Requires `X-Api-Key: <key>` on every route except `/healthz`, compared in constant time;
 * answers `401 {"code":"unauthorized", …}` otherwise.
 */
export function requireApiKey(app: FastifyInstance, apiKey: string): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url === '/healthz') return;
    const presented = request.headers['x-api-key'];
    if (typeof presented === 'string' && secretsMatch(presented, apiKey)) return;
    return reply.code(401).send({ code: 'unauthorized', message: 'missing or invalid API key' });
  });
}
