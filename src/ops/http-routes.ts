import type { FastifyInstance } from 'fastify';
import { registerAdminAuth } from '../admin/auth.js';
import type { AdminConfig, BridgeConfig, ConnectionConfig } from '../config/schema.js';
import { proxyOperation } from '../proxy/proxy-timeline.js';
import type { Runtime } from '../runtime.js';

/**
 * The bridge's HTTP-side observability, shared by the main listener and the small ops listener
 * (`metrics.listen`): health probes, the Prometheus endpoint, and one structured log line plus
 * one metric sample per request.
 */

/** /livez (the process is alive) and /readyz (it can do its work; body: per-component state). */
export function registerHealthRoutes(app: FastifyInstance, runtime: Runtime): void {
  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const health = await runtime.health();
    return reply.code(health.status === 'ok' ? 200 : 503).send(health);
  });
}

/** GET /metrics in the Prometheus text format, to anyone: callers decide who may reach it. */
function registerMetricsRoute(app: FastifyInstance, runtime: Runtime): void {
  app.get('/metrics', async (_request, reply) => reply.type(runtime.metrics.contentType).send(await runtime.metrics.render()));
}

/**
 * Who may read /metrics: the admin credentials and the scrape tokens of `metrics.tokens`, with
 * the admin login throttle; undefined when neither is configured (then /metrics is not served,
 * unless `metrics.public`).
 */
export function metricsAccess(config: Pick<BridgeConfig, 'admin' | 'metrics'>): AdminConfig | undefined {
  const scrapeTokens = config.metrics.tokenHashes;
  if (config.admin) return scrapeTokens.length === 0 ? config.admin : { ...config.admin, tokenHashes: [...config.admin.tokenHashes, ...scrapeTokens] };
  if (scrapeTokens.length === 0) return undefined;
  return { tokenHashes: scrapeTokens, allow: { retry: false, clean: false, promote: false } };
}

/**
 * GET /metrics on `app` (the main listener or the `metrics.listen` one): without credentials
 * when `metrics.public`, else behind `metricsAccess`, else not at all.
 */
export async function registerMetrics(app: FastifyInstance, runtime: Runtime, config: Pick<BridgeConfig, 'admin' | 'metrics'>): Promise<void> {
  if (!config.metrics.enabled) return;
  if (config.metrics.public) return registerMetricsRoute(app, runtime);
  const access = metricsAccess(config);
  if (!access) return;
  await app.register(async (scope) => {
    await registerAdminAuth(scope, access, runtime.adminLoginCounter());
    registerMetricsRoute(scope, runtime);
  });
}

/**
 * One line per request when it is answered, instead of Fastify's two: request id, method, path
 * (never the query string: Entra's filters carry user names), status, duration and, for SCIM
 * requests, the connection and operation (`POST /Users`, `PATCH /Groups/:id`), which also label
 * the request metrics.
 */
export function observeRequests(app: FastifyInstance, runtime: Runtime, connections: readonly ConnectionConfig[]): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    const connection = route === undefined ? undefined : connections.find((c) => route === c.basePath || route.startsWith(`${c.basePath}/`));
    // A `mode: proxy` connection's routes are wildcards: its operation comes from the path.
    const operation =
      connection && route
        ? connection.mode === 'proxy'
          ? proxyOperation(request.method, request.url, connection.basePath)
          : `${request.method} ${route.slice(connection.basePath.length) || '/'}`
        : undefined;
    const durationMs = Math.round(reply.elapsedTime * 10) / 10;
    if (connection && operation) {
      runtime.metrics.scimRequest({ connection: connection.id, operation, status: reply.statusCode }, reply.elapsedTime / 1000);
    }
    request.log.info(
      {
        method: request.method,
        path: request.url.split('?')[0],
        status: reply.statusCode,
        durationMs,
        ...(connection ? { connectionId: connection.id, operation } : {}),
      },
      'request',
    );
  });
}
