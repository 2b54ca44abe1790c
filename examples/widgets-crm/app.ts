import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { ApiError } from '../sample-legacy-api/api-error.js';
import { acceptEmptyJsonBodies } from '../sample-legacy-api/json-body.js';
import { listenFakeApi, type ListenOptions, type RunningFakeApi } from '../sample-legacy-api/listen.js';
import { registerTestControls } from '../sample-legacy-api/test-controls.js';
import { requireApiKey } from './api-key-auth.js';
import { createPeople } from './people.js';
import { registerPeopleRoutes } from './people-routes.js';

/**
 * A second fake target, deliberately unlike the sample legacy API: nested JSON, an API-key
 * header, ids read from a `Location` header, partial `PATCH` updates, suspension through a
 * state field and no groups. It proves a mapping file alone can front a differently shaped
 * API; README.md in this folder documents it. It shares the fault injection and request log of
 * the sample legacy API (`../sample-legacy-api/test-controls.ts`).
 */

export interface WidgetsCrmOptions {
  /** The key every route except `/healthz` requires in `X-Api-Key`. */
  apiKey: string;
  /** @default false (quiet in tests) */
  logger?: FastifyServerOptions['logger'];
}

/** Builds the CRM with no people; use `inject()` on it or listen yourself. */
export function buildWidgetsCrm(options: WidgetsCrmOptions): FastifyInstance {
  if (!options.apiKey) throw new Error('widgets CRM: a non-empty apiKey is required');
  const app = Fastify({ logger: options.logger ?? false });

  acceptEmptyJsonBodies(app);
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  registerTestControls(app, { secretHeaders: ['x-api-key'] });
  requireApiKey(app, options.apiKey);

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.statusCode).send(error.body);
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ code: 'bad_request', message: (error as Error).message });
    request.log.error({ err: error }, 'widgets crm failed');
    return reply.code(500).send({ code: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ code: 'not_found', message: 'no such resource' }));

  app.get('/healthz', async () => ({ status: 'ok' }));
  registerPeopleRoutes(app, createPeople());
  return app;
}

export interface StartWidgetsCrmOptions extends WidgetsCrmOptions, ListenOptions {}

/** Builds the CRM and listens (127.0.0.1, port 0 by default); `url` has the actual port. */
export async function startWidgetsCrm(options: StartWidgetsCrmOptions): Promise<RunningFakeApi> {
  return listenFakeApi(buildWidgetsCrm(options), options);
}
