import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { ADMIN_PREFIX, adminPlugin } from './admin/plugin.js';
import { observeRequests, registerHealthRoutes, registerMetrics } from './ops/http-routes.js';
import { scimPlugin } from './api/scim-plugin.js';
import { SCIM_CONTENT_TYPE, scimErrorHandler } from './api/scim-errors.js';
import { clientErrorHandler, frameworkErrorHandler, requestIdOf } from './api/transport-errors.js';
import { tokenEndpointPlugin } from './api/token-endpoint.js';
import type { BridgeConfig } from './config/schema.js';
import { registerPassThrough } from './proxy/pass-through.js';
import { scimProxyPlugin } from './proxy/scim-proxy-plugin.js';
import type { Runtime } from './runtime.js';
import { notFound, renderErrorBody } from './scim/errors.js';

/**
 * The HTTP application: health routes plus one encapsulated SCIM service provider per
 * connection. The only wiring place of the API; `server.ts`-style entry points (the CLI) and the
 * tests build it the same way.
 */

/** Request fields never to log (pino redaction paths). */
const LOG_REDACT = ['req.headers.authorization', 'req.headers.cookie'];

/**
 * Request log fields: method and path only. The query string is left out because Entra's
 * filters carry user names and emails (`?filter=userName eq "ada@example.com"`).
 */
const LOG_SERIALIZERS = {
  req: (request: { method: string; url: string; id?: string }) => ({ method: request.method, path: request.url.split('?')[0] }),
};

/**
 * Path prefixes of the bridge's own routes (health, metrics, admin, OAuth token endpoints):
 * never forwarded to a pass-through upstream, even where no bridge route matches.
 */
export const BRIDGE_PATHS = ['/livez', '/readyz', '/metrics', '/admin', '/oauth', '/oauth2'];

export interface BuildAppOptions {
  config: BridgeConfig;
  runtime: Runtime;
  /** Replaces the default logger entirely (tests pass `false`). */
  logger?: FastifyServerOptions['logger'];
  /** Where the default logger writes; stdout when absent (the demo uses stderr). */
  logStream?: NodeJS.WritableStream;
}

/**
 * The limits and error answers of every listener the bridge opens (the API and the
 * `metrics.listen` one): bounded URLs, bodies and headers, slow clients cut off, framework and
 * socket errors answered as SCIM errors.
 */
export function guardedServerOptions(limits: BridgeConfig['limits']) {
  return {
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: limits.idLength },
    bodyLimit: limits.bodyBytes,
    // Slow clients (a body trickled byte by byte) cannot hold a socket open for long.
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: {
      maxHeaderSize: limits.headerBytes,
      headersTimeout: limits.headersTimeoutMs,
      // Node enforces both timeouts on this tick (30 s by default): check often enough to honour them.
      connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(shortestTimeout(limits) / 2))),
    },
    frameworkErrors: frameworkErrorHandler(limits),
    clientErrorHandler,
  };
}

/** An unknown path, on any listener: a SCIM 404. */
export function scimNotFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  scimErrorHandler(notFound('no such endpoint'), request, reply);
}

export async function buildApp({ config, runtime, logger, logStream }: BuildAppOptions): Promise<FastifyInstance> {
  const { limits } = config;
  const app = Fastify({
    logger: logger ?? { level: config.logLevel, redact: LOG_REDACT, serializers: LOG_SERIALIZERS, ...(logStream ? { stream: logStream } : {}) },
    ...guardedServerOptions(limits),
    // The client's x-request-id only when it is a plain token (requestIdOf), never raw.
    requestIdHeader: false,
    genReqId: requestIdOf,
    // observeRequests() logs one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  });
  // Every answer, SCIM route or not, is a SCIM body when it is an error.
  app.setErrorHandler(scimErrorHandler);

  observeRequests(app, runtime, config.connections);
  registerHealthRoutes(app, runtime);
  // /metrics: on its own listener when `metrics.listen` is set (bridge.ts), else here.
  if (config.metrics.listen === undefined) await registerMetrics(app, runtime, config);

  for (const connection of config.connections) {
    if (connection.mode === 'proxy') {
      await app.register(scimProxyPlugin, {
        prefix: connection.basePath,
        connection,
        authenticator: runtime.auth(connection.id).authenticator,
        publicUrl: config.publicUrl,
        limits,
        timeline: runtime.proxy(connection.id).timeline,
        ...(runtime.proxy(connection.id).buffer ? { buffer: runtime.proxy(connection.id).buffer } : {}),
        live: () => runtime.live.connection(connection.id),
        requestCounter: runtime.requestCounter(connection.id),
      });
      continue;
    }
    await app.register(scimPlugin, {
      prefix: connection.basePath,
      connection,
      current: () => runtime.live.connection(connection.id),
      requestCounter: runtime.requestCounter(connection.id),
      provisioning: runtime.connection(connection.id).provisioning,
      authenticator: runtime.auth(connection.id).authenticator,
      publicUrl: config.publicUrl,
      limits,
    });
  }

  for (const connection of config.connections) {
    const auth = runtime.auth(connection.id);
    if (connection.tokenPath && auth.accessTokens) {
      await app.register(tokenEndpointPlugin, {
        path: connection.tokenPath,
        connectionId: connection.id,
        authenticator: auth.authenticator,
        accessTokens: auth.accessTokens,
        scopes: () => runtime.live.connection(connection.id).auth.oauth2?.scopes ?? [],
        failedAuthLimit: connection.auth.oauth2?.failedAuthLimit ?? false,
        failureCounter: runtime.requestCounter(connection.id),
      });
    }
  }
  // The ops routes exist only when admin credentials are configured.
  if (config.admin) {
    await app.register(adminPlugin, { prefix: ADMIN_PREFIX, admin: config.admin, runtime });
  }

  // A SCIM-looking path outside every connection is answered like a bad secret, so probing
  // cannot tell which connection ids exist. This runs on request, before any body is read: a
  // 404 handler would only run after body parsing and answer a large body with 413. In front of
  // an application (pass-through), only SCIM v2 base paths count as SCIM-looking, so the
  // application keeps pages such as /settings/scim; Entra's secret never reaches it either way.
  const basePaths = config.connections.map((c) => c.basePath);
  const passThrough = config.upstream !== undefined || config.connections.some((c) => c.upstream);
  const scimLooking = passThrough ? /\/scim\/v2(\/|$)/i : /\/scim(\/|$)/i;
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (!scimLooking.test(path) || basePaths.some((base) => path === base || path.startsWith(`${base}/`))) return;
    return reply
      .code(401)
      .type(SCIM_CONTENT_TYPE)
      .headers({ 'www-authenticate': 'Bearer realm="scim-bridge"', connection: 'close' })
      .send(renderErrorBody(401, 'missing or invalid bearer token'));
  });
  app.setNotFoundHandler(scimNotFoundHandler);

  // Pass-through (docs/reverse-proxy.md): registered last, as catch-all routes, so every bridge
  // route wins; connection prefixes are more specific than the host-wide upstream.
  const reserved = [...BRIDGE_PATHS, ...basePaths];
  for (const connection of config.connections) {
    if (connection.upstream) {
      await registerPassThrough(app, { upstream: connection.upstream, prefix: connection.upstream.prefix, reserved, connectionId: connection.id });
    }
  }
  if (config.upstream) await registerPassThrough(app, { upstream: config.upstream, prefix: '', reserved });

  return app;
}

function shortestTimeout(limits: BridgeConfig['limits']): number {
  return Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || Number.POSITIVE_INFINITY);
}
