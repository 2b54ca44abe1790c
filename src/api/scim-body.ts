import type { FastifyInstance } from 'fastify';
import { parseJsonBody } from './json-body.js';

/**
 * The JSON body parser of a SCIM scope (bridged or proxied). Entra sends application/scim+json;
 * other clients send application/json or nothing. Parse them all as JSON, bounded in size and
 * nesting and prototype-safe (json-body.ts), and answer bad JSON with a SCIM 400 rather than
 * Fastify's own error.
 */
export function useScimJsonBodies(app: FastifyInstance, limits: { bodyBytes: number; nestingDepth: number }): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: limits.bodyBytes }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(typeof body === 'string' ? body : body.toString('utf8'), limits.nestingDepth));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
