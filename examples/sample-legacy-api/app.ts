import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { registerAccountRoutes } from './account-routes.js';
import { ApiError } from './api-error.js';
import { requireBearerToken } from './bearer-auth.js';
import { createDirectory } from './directory.js';
import { acceptEmptyJsonBodies } from './json-body.js';
import { listenFakeApi, type ListenOptions, type RunningFakeApi } from './listen.js';
import { registerTeamRoutes } from './team-routes.js';
import { registerTestControls } from './test-controls.js';

/**
 * The bundled "legacy application": a plain REST API for accounts and teams that knows nothing
 * about SCIM. The demo (`npm start`) and the end-to-end tests put it behind the bridge with
 * mappings/sample-legacy.yaml; README.md in this folder documents its API.
 */

export interface SampleLegacyApiOptions {
  /** The bearer token every route except `/healthz` requires. */
  token: string;
  /** @default false (quiet in tests) */
  logger?: FastifyServerOptions['logger'];
}

/** Builds the API with empty in-memory state; use `inject()` on it or listen yourself. */
export function buildSampleLegacyApi(options: SampleLegacyApiOptions): FastifyInstance {
  if (!options.token) throw new Error('sample legacy API: a non-empty token is required');
  const app = Fastify({ logger: options.logger ?? false });
  const directory = createDirectory();

  acceptEmptyJsonBodies(app);
  registerTestControls(app, { secretHeaders: ['authorization'] });
  requireBearerToken(app, options.token);

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.statusCode).send(error.body);
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: 'bad_request', detail: (error as Error).message });
    request.log.error({ err: error }, 'sample legacy api failed');
    return reply.code(500).send({ error: 'internal' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'not_found' }));

  app.get('/healthz', async () => ({ status: 'ok' }));
  registerAccountRoutes(app, directory);
  registerTeamRoutes(app, directory);
  return app;
}

export interface StartSampleLegacyApiOptions extends SampleLegacyApiOptions, ListenOptions {}

/** Builds the API and listens (127.0.0.1, port 0 by default); `url` has the actual port. */
export async function startSampleLegacyApi(options: StartSampleLegacyApiOptions): Promise<RunningFakeApi> {
  return listenFakeApi(buildSampleLegacyApi(options), options);
}
