import type { FastifyInstance } from 'fastify';

/**
 * Makes `application/json` accept an empty body as "no body". HTTP clients often send
 * `Content-Type: application/json` on body-less POST and DELETE calls (such as
 * `POST /accounts/:id/disable`); Fastify's default answers those with 400
 * FST_ERR_CTP_EMPTY_JSON_BODY, which a real legacy API would not do. Non-empty bodies still go
 * through Fastify's own parser, with its prototype-poisoning protection.
 * @see https://fastify.dev/docs/latest/Reference/ContentTypeParser/#getdefaultjsonparser
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
