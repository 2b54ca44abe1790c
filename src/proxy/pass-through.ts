import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { recordProxied } from './metrics.js';
import { classifyUpstreamError } from './upstream-errors.js';

/**
 * Pass-through: the bridge as the application's front door. Every request under `prefix` that
 * no bridge route claims is forwarded to the application with @fastify/http-proxy: bodies are
 * streamed both ways (never parsed or buffered), headers pass unchanged plus `X-Forwarded-*`,
 * the application's answers (status, headers, Location, body) come back untouched, and
 * WebSocket upgrades are proxied when enabled. Only failures to reach the application are the
 * bridge's own answers (502/504 with a GW_PROXY_* code).
 * @see https://github.com/fastify/fastify-http-proxy
 */

export interface PassThroughOptions {
  upstream: UpstreamConfig;
  /** Mount point: '' for the whole host, or a connection's prefix such as /acme. */
  prefix: string;
  /**
   * Path prefixes the bridge owns (SCIM base paths, health, admin, metrics, token routes): a
   * path under them that no bridge route matched gets the bridge's 404, never the application.
   */
  reserved: readonly string[];
  /** The connection whose prefix this is (metrics label); none for the host-wide upstream. */
  connectionId?: string;
}

/** Hop-by-hop and handshake headers the WebSocket client sets itself. */
const WS_OWN_HEADERS = /^(host|connection|upgrade|content-length|transfer-encoding|sec-websocket-.*)$/i;

export async function registerPassThrough(app: FastifyInstance, options: PassThroughOptions): Promise<void> {
  const { upstream, prefix } = options;
  const target = new URL(upstream.url);
  const upstreamPath = target.pathname.replace(/\/+$/, '');
  const pool = new Pool(target.origin, {
    connections: upstream.connections,
    connect: { timeout: upstream.connectTimeoutMs },
    headersTimeout: upstream.timeoutMs,
    bodyTimeout: upstream.timeoutMs,
  });

  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (isReserved(pathOf(request.url), options.reserved)) return reply.callNotFound();
    });
    scope.addHook('onResponse', async (request, reply) => {
      recordProxied('pass-through', options.connectionId ?? '', reply.statusCode, reply.elapsedTime);
      request.log.info(
        { proxy: 'pass-through', upstream: target.origin, method: request.method, path: pathOf(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'proxied request',
      );
    });
    scope.addHook('onClose', async () => {
      await pool.close();
    });

    const proxyOptions: FastifyHttpProxyOptions = {
      upstream: target.origin,
      ...(prefix ? { prefix } : {}),
      // The application sees the path it was asked for (under the upstream URL's own path).
      rewritePrefix: `${upstreamPath}${prefix}` || '/',
      internalRewriteLocationHeader: false,
      undici: pool,
      disableRequestLogging: true,
      replyOptions: {
        rewriteRequestHeaders: (request, headers) => ({ ...headers, ...forwardedHeaders(request) }),
        // reply-from retries GETs answered 503; the application's answers must pass untouched.
        retryDelay: () => null,
        onError: (reply, { error }) => {
          const failure = classifyUpstreamError(error);
          reply.log.warn({ code: failure.code, err: error }, 'pass-through upstream failed');
          void reply.code(failure.status).type('application/json; charset=utf-8').send({ error: failure.detail, code: failure.code });
        },
      },
    };
    const websocket = {
      websocket: true,
      wsClientOptions: {
        // The default forwards only cookies; the application gets the handshake's headers.
        rewriteRequestHeaders: (headers: Record<string, unknown>, request: FastifyRequest) => ({
          ...headers,
          ...Object.fromEntries(Object.entries(request.headers).filter(([name]) => !WS_OWN_HEADERS.test(name))),
          ...forwardedHeaders(request),
        }),
      },
    };
    // The plugin's typings know neither the boolean-valued websocket switch nor the ws header
    // rewrite it supports at run time, hence the cast.
    await scope.register(httpProxy, (upstream.websocket ? { ...proxyOptions, ...websocket } : proxyOptions) as Parameters<typeof httpProxy>[1]);
  });
}

function pathOf(url: string): string {
  return url.split('?')[0] ?? '';
}

function isReserved(path: string, reserved: readonly string[]): boolean {
  const lower = path.toLowerCase();
  return reserved.some((base) => {
    const b = base.toLowerCase();
    return lower === b || lower.startsWith(b.endsWith('/') ? b : `${b}/`);
  });
}
