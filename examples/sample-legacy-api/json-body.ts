import type { FastifyInstance } from 'fastify';

/**
 * Replaces Fastify's JSON parser with one that reads an empty body as "no body". HTTP clients
 * often send `Content-Type: application/json` on body-less POST and DELETE calls (such as
 * `POST /accounts/:id/disable`); Fastify's default answers those with 400
 * FST_ERR_CTP_EMPTY_JSON_BODY, which a real legacy API would not do.
 * @see https://fastify.dev/docs/latest/Reference/ContentTypeParser/
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(Object.assign(error as Error, { statusCode: 400 }), undefined);
    }
  });
}
