import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectionAuthHook } from '../api/auth.js';
import { registerConnectionRateLimit, type RequestCounter } from '../api/connection-rate-limit.js';
import type { ConnectionAuthenticator } from '../auth/authenticator.js';
import { useScimJsonBodies } from '../api/scim-body.js';
import { SCIM_CONTENT_TYPE, scimErrorHandler } from '../api/scim-errors.js';
import { urlLengthCheck } from '../api/transport-errors.js';
import { proxySchema, type ConnectionConfig, type LimitsConfig, type ProxyRewrite } from '../config/schema.js';
import { renderErrorBody, ScimError } from '../scim/errors.js';
import { createSchemaRegistry } from '../scim/schema-registry.js';
import type { ResourceType } from '../scim/types.js';
import { createCircuitBreaker } from './circuit-breaker.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { recordProxied } from './metrics.js';
import { fixResponseBody, rewriteLocation } from './scim-response.js';
import { rewriteFilter, rewritePatch, rewriteResource } from './scim-rewrites.js';
import { rewriteQuery } from './query-string.js';
import { classifyUpstreamError } from './upstream-errors.js';
import { createUpstreamClient } from './upstream-client.js';
import { appliedRewrites, proxyOpOf, resourceIdOf, writtenAttributes, type ProxyOp } from './proxy-timeline.js';
import type { ErrorCode } from '../lib/errors.js';
import type { BufferedWrite, WriteBuffer } from './write-buffer.js';
import type { ProxyOutcome, ProxyWriteEvent, Timeline } from '../ops/timeline.js';

/**
 * A `mode: proxy` connection: Entra authenticates as for any connection, then each request is
 * forwarded to the connection's target, itself a SCIM endpoint, with the target's credentials.
 * Bodies and filters go through the connection's named rewrites (scim-rewrites.ts); answers
 * come back with the target's URLs replaced by the bridge's. SCIM bodies are small and must be
 * rewritten, so both are buffered (bounded); the target's failures become SCIM errors with a
 * detail, and a circuit breaker and an in-flight limit keep a dead target from hanging Entra.
 */

export interface ScimProxyOptions {
  connection: ConnectionConfig;
  authenticator: ConnectionAuthenticator;
  /** External URL of the bridge (`publicUrl` in config); derived from the request when absent. */
  publicUrl?: string;
  limits: LimitsConfig;
  /** Where each proxied write is recorded (the resource's timeline); none in some unit tests. */
  timeline?: Timeline;
  /** The connection's write buffer, when `proxy.buffer.writes` is on. */
  buffer?: WriteBuffer;
  /** The connection's config in effect (runtime.live): rotated target.tls files are picked up from it. */
  live?: () => ConnectionConfig;
  /** Where `rateLimit` counts requests (Redis, shared by every API process). */
  requestCounter?: RequestCounter;
}

/** What the preHandler prepared for the synchronous hooks of one forwarded request. */
interface Forwarding {
  credentials: Record<string, string>;
  token?: string;
  /** The OAuth2 token came from the cache (not granted for this request). */
  fromCache?: boolean;
  /** The request was already sent once more with a new token (after a 401 to a cached one). */
  renewed?: boolean;
  /** How reply-from was called, so the same request can be sent once more. */
  from?: { dest: string; options: unknown };
  query: string;
  publicBase: string;
  /** Headers of the upstream's answer, set on the reply (removed again when the write is buffered instead). */
  upstreamHeaders: string[];
}

/** One proxied write as the timeline will record it, filled in as the request goes. */
interface Observed {
  at: number;
  op: ProxyOp;
  type: ResourceType;
  /** From the path; for a POST, the id in the upstream's answer. */
  id?: string;
  attributes: string[];
  rewrites: ProxyRewrite[];
  outcome?: ProxyOutcome;
  upstreamStatus?: number;
  code?: ErrorCode;
  jobId?: string;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export async function scimProxyPlugin(app: FastifyInstance, options: ScimProxyOptions): Promise<void> {
  const { connection, buffer } = options;
  const settings = connection.proxy ?? proxySchema.parse({});
  const enabled = new Set(settings.rewrites);
  const target = new URL(connection.target.baseUrl);
  const targetBase = `${target.origin}${target.pathname.replace(/\/+$/, '')}`;
  const extraHeaders = Object.fromEntries(Object.entries(connection.target.headers).map(([k, v]) => [k.toLowerCase(), v]));
  // Mutual TLS (target.tls) towards the upstream and its OAuth2 token endpoint, as for delivery;
  // rotated certificate files are used from the next request after a config reload.
  const upstream = createUpstreamClient(connection, {
    ...(options.live ? { live: options.live } : {}),
    pool: { connections: settings.maxInFlight, headersTimeout: connection.target.timeoutMs, bodyTimeout: connection.target.timeoutMs },
    onReloadFailed: (error) => app.log.error({ code: 'GW_CONFIG_INVALID', connection: connection.id, err: error.message }, 'new target.tls files not loaded: the running ones stay'),
  });
  const credentials = {
    headers: () => upstream.current().credentials.headers(),
    invalidate: (token: string) => upstream.current().credentials.invalidate(token),
  };
  const tlsConnect = { explain: (error: unknown) => upstream.current().explain(error) };
  const breaker = createCircuitBreaker(settings.breaker);
  // The connection's schemas (built-in and declared extensions) tell the rewrites which attributes are boolean.
  const registry = createSchemaRegistry(connection.extensions);
  const forwarding = new WeakMap<FastifyRequest, Forwarding>();
  const observed = new WeakMap<FastifyRequest, Observed>();
  let inFlight = 0;

  useScimJsonBodies(app, options.limits);
  app.addHook('onRequest', urlLengthCheck(options.limits.urlLength));
  app.addHook('onRequest', connectionAuthHook(connection, options.authenticator));
  // The same optional throttle as a bridged connection's, counted after the bearer check.
  await registerConnectionRateLimit(app, connection, undefined, options.requestCounter);
  app.setErrorHandler(scimErrorHandler);
  app.addHook('onClose', async () => {
    await upstream.close();
  });

  app.addHook('preHandler', async (request, reply) => {
    const type = resourceTypeOf(request.url, connection.basePath);
    const op = proxyOpOf(request.method);
    const record: Observed | undefined =
      op && type ? { at: Date.now(), op, type, attributes: writtenAttributes(op, request.body), rewrites: [] } : undefined;
    if (record) {
      const id = resourceIdOf(request.url, connection.basePath);
      if (id !== undefined && op !== 'create') record.id = id;
      observed.set(request, record);
    }
    // Rewritten before any decision: a buffered write is kept exactly as it would have been sent.
    const query = rewriteQuery(request.url, (filter) => rewriteFilter(filter, enabled));
    if (record) record.rewrites = appliedRewrites({ type, registry }, record.op, request.body, enabled);
    if (WRITE_METHODS.has(request.method) && request.body !== undefined) {
      const body =
        request.method === 'PATCH'
          ? rewritePatch({ type, registry }, request.body, enabled)
          : type
            ? rewriteResource({ type, registry }, request.body, enabled)
            : request.body;
      // A string body is sent as is, with the client's content type.
      request.body = JSON.stringify(body);
    }
    if (buffer && bufferable(request)) {
      // While earlier writes wait in the buffer, later ones queue behind them: nothing overtakes.
      let pending: number;
      try {
        pending = await buffer.pending();
      } catch {
        request.log.warn({ code: 'GW_PROXY_BUFFER_UNAVAILABLE', connection: connection.id }, 'write buffer unreachable: not forwarding out of order');
        note(record, { outcome: 'refused', code: 'GW_PROXY_BUFFER_UNAVAILABLE' });
        throw unavailable('the bridge cannot check its write buffer for this connection; retry later', 1_000);
      }
      if (pending > 0) {
        return bufferOr(request, reply, unavailable('earlier writes wait in the buffer for the upstream SCIM service, and the buffer is full', 5_000), pending);
      }
    }
    // The in-flight limit first: a refused request must not take the breaker's half-open trial.
    if (inFlight >= settings.maxInFlight) {
      request.log.warn({ code: 'GW_PROXY_UNAVAILABLE', connection: connection.id, inFlight }, 'too many proxied requests in flight');
      note(record, { outcome: 'refused', code: 'GW_PROXY_UNAVAILABLE' });
      throw unavailable('too many requests are in flight to the upstream SCIM service', 1_000);
    }
    const admission = breaker.admit();
    if (!admission.allowed) {
      request.log.warn({ code: 'GW_PROXY_UNAVAILABLE', connection: connection.id, breaker: breaker.state }, 'circuit open: not forwarding');
      note(record, { outcome: 'refused', code: 'GW_PROXY_UNAVAILABLE' });
      const refusal = unavailable('the upstream SCIM service is failing; the bridge stopped forwarding for a moment', admission.retryAfterMs);
      if (bufferable(request)) return bufferOr(request, reply, refusal);
      throw refusal;
    }
    inFlight += 1;
    const prepared: Forwarding = { credentials: {}, query, publicBase: publicBaseOf(request), upstreamHeaders: [] };
    forwarding.set(request, prepared);
    // Tokens are fetched here because the header rewrite below is synchronous.
    try {
      const auth = await credentials.headers();
      prepared.credentials = auth.headers;
      if (auth.token !== undefined) prepared.token = auth.token;
      if (auth.fromCache) prepared.fromCache = true;
    } catch {
      breaker.failed();
      note(record, { outcome: 'failed', code: 'GW_DELIVERY_AUTH' });
      const failure = new ScimError(502, undefined, 'the bridge could not obtain credentials for the upstream SCIM service');
      if (bufferable(request)) return bufferOr(request, reply, failure);
      throw failure;
    }
  });

  /** A PUT, PATCH or DELETE of a known resource, on a connection that buffers writes. */
  function bufferable(request: FastifyRequest): boolean {
    const record = observed.get(request);
    return buffer !== undefined && record?.id !== undefined && record.op !== 'create';
  }

  /**
   * Accepts the write into the buffer (durable in Redis once this resolves); its job id, or
   * undefined when the buffer is full or unreachable (the caller then answers the failure).
   */
  async function tryBuffer(request: FastifyRequest, knownPending?: number): Promise<string | undefined> {
    const record = observed.get(request);
    if (!buffer || record?.id === undefined || record.op === 'create') return undefined;
    const log = { connection: connection.id, cause: record.code };
    try {
      const pending = knownPending ?? (await buffer.pending());
      if (pending >= buffer.settings.maxQueued) {
        request.log.warn({ ...log, code: 'GW_PROXY_BUFFER_FULL', pending }, 'write buffer full: not buffering');
        note(record, { code: 'GW_PROXY_BUFFER_FULL' });
        return undefined;
      }
      const path = (request.url.split('?')[0] ?? '').slice(connection.basePath.length);
      const query = forwarding.get(request)?.query ?? rewriteQuery(request.url, (filter) => rewriteFilter(filter, enabled));
      const contentType = request.headers['content-type'];
      const ifMatch = request.headers['if-match'];
      const jobId = await buffer.accept({
        connectionId: connection.id,
        type: record.type,
        id: record.id,
        op: record.op,
        method: request.method as BufferedWrite['method'],
        path: query ? `${path}?${query}` : path,
        ...(typeof request.body === 'string' ? { body: request.body } : {}),
        ...(typeof contentType === 'string' && typeof request.body === 'string' ? { contentType } : {}),
        ...(typeof ifMatch === 'string' ? { ifMatch } : {}),
        requestId: request.id,
        attributes: record.attributes,
        rewrites: record.rewrites,
        acceptedAt: new Date().toISOString(),
      });
      note(record, { outcome: 'buffered', jobId });
      request.log.info({ ...log, jobId }, 'write buffered until the upstream takes it');
      return jobId;
    } catch (error) {
      request.log.warn({ ...log, code: 'GW_PROXY_BUFFER_UNAVAILABLE', err: (error as Error).message }, 'write buffer unreachable: not buffering');
      return undefined;
    }
  }

  /** Buffers the write and answers it, or answers `failure` when it cannot be buffered. */
  async function bufferOr(request: FastifyRequest, reply: FastifyReply, failure: ScimError, knownPending?: number): Promise<FastifyReply> {
    const jobId = await tryBuffer(request, knownPending);
    if (jobId === undefined) throw failure;
    return sendBuffered(reply, jobId);
  }

  function sendBuffered(reply: FastifyReply, jobId: string): FastifyReply {
    // The upstream's failure answer set its headers already; none of them describe this answer.
    for (const name of forwarding.get(reply.request)?.upstreamHeaders ?? []) reply.removeHeader(name);
    return reply.code(buffer!.settings.status).header('x-scim-bridge-buffered', jobId).send();
  }

  app.addHook('onResponse', async (request, reply) => {
    if (forwarding.has(request)) inFlight -= 1;
    recordProxied('scim', connection.id, reply.statusCode, reply.elapsedTime);
    const record = observed.get(request);
    request.log.info(
      {
        proxy: 'scim',
        connection: connection.id,
        method: request.method,
        path: request.url.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        ...(record?.upstreamStatus === undefined || record.upstreamStatus === reply.statusCode ? {} : { upstreamStatus: record.upstreamStatus }),
        ...(record && record.rewrites.length > 0 ? { rewrites: record.rewrites } : {}),
        ...(record?.outcome === 'buffered' ? { buffered: record.jobId } : {}),
      },
      'proxied request',
    );
    if (record?.id !== undefined && options.timeline) {
      const event: ProxyWriteEvent = {
        kind: 'proxy',
        at: new Date(record.at).toISOString(),
        op: record.op,
        requestId: request.id,
        attributes: record.attributes,
        rewrites: record.rewrites,
        // Answered before reaching the upstream for a reason of the bridge's own (a SCIM 4xx).
        outcome: record.outcome ?? 'refused',
        status: reply.statusCode,
        ...(record.upstreamStatus === undefined ? {} : { upstreamStatus: record.upstreamStatus }),
        durationMs: Math.round(reply.elapsedTime),
        ...(record.code === undefined ? {} : { code: record.code }),
        ...(record.jobId === undefined ? {} : { jobId: record.jobId }),
      };
      // Recording never changes the answer (already sent): a failed write is only logged.
      await options.timeline.append(record.type, record.id, event).catch((error: unknown) => {
        request.log.warn({ connection: connection.id, err: (error as Error).message }, 'could not record the proxied write in the timeline');
      });
    }
  });

  const proxyOptions: FastifyHttpProxyOptions = {
    upstream: target.origin,
    rewritePrefix: target.pathname.replace(/\/+$/, '') || '/',
    // Fastify parses (and bounds) the JSON so the rewrites can work on it.
    proxyPayloads: false,
    internalRewriteLocationHeader: false,
    undici: upstream.dispatcher,
    disableRequestLogging: true,
    // The call is kept so a 401 to a cached token can repeat it with a new one (renewAndResend).
    handler: (request, reply, dest, replyOptions) => {
      const prepared = forwarding.get(request);
      if (prepared) prepared.from = { dest, options: replyOptions };
      return reply.from(dest, replyOptions);
    },
    replyOptions: {
      retryDelay: () => null,
      queryString: (_search, _url, request) => forwarding.get(request as FastifyRequest)?.query ?? '',
      rewriteRequestHeaders: (request, headers) => {
        // Entra's bridge secret never travels on; the target gets its own credentials.
        const { authorization: _secret, cookie: _cookie, ...rest } = headers;
        const prepared = forwarding.get(request as FastifyRequest);
        return { ...rest, ...extraHeaders, ...forwardedHeaders(request), ...prepared?.credentials };
      },
      rewriteHeaders: (headers, request) => {
        const prepared = request ? forwarding.get(request as FastifyRequest) : undefined;
        // The body may be rewritten below, so its length is recomputed on send.
        const { 'content-length': _length, ...rest } = headers;
        if (typeof rest.location === 'string' && prepared) rest.location = rewriteLocation(rest.location, targetBase, prepared.publicBase);
        if (prepared) prepared.upstreamHeaders = Object.keys(rest);
        return rest;
      },
      onResponse: (request, reply, res) => {
        void relayAnswer(request as FastifyRequest, reply as FastifyReply, res.statusCode, res.stream);
      },
      onError: (reply, { error }) => {
        breaker.failed();
        const failure = classifyUpstreamError(tlsConnect.explain(error));
        note(observed.get(reply.request as FastifyRequest), { outcome: 'failed', code: failure.code });
        reply.log.warn({ code: failure.code, connection: connection.id, ...(failure.tls ? { tls: failure.tls } : {}) }, 'proxied SCIM request failed');
        const request = reply.request as FastifyRequest;
        void (async () => {
          const jobId = await tryBuffer(request);
          if (jobId !== undefined) return sendBuffered(reply as FastifyReply, jobId);
          return reply.code(failure.status).type(SCIM_CONTENT_TYPE).send(renderErrorBody(failure.status, failure.detail));
        })();
      },
    },
  };
  await app.register(httpProxy, proxyOptions as Parameters<typeof httpProxy>[1]);

  /** Reads the target's answer (bounded), fixes it for Entra and sends it. */
  async function relayAnswer(request: FastifyRequest, reply: FastifyReply, status: number, stream: NodeJS.ReadableStream) {
    const prepared = forwarding.get(request)!;
    const record = observed.get(request);
    note(record, { outcome: 'forwarded', upstreamStatus: status });
    if (status === 502 || status === 503 || status === 504) breaker.failed();
    else breaker.succeeded();
    if (status === 401 && prepared.token !== undefined && prepared.fromCache && !prepared.renewed && prepared.from) {
      // A cached token the upstream refuses (revoked, keys rotated): a new one, same request once
      // more. A 401 means the request was not performed, and its body is held (parsed, rewritten).
      drain(stream);
      return renewAndResend(request, reply, prepared);
    }
    if (status === 401 || status === 403) {
      // The target refused the bridge, not Entra: a 401 would make Entra distrust its own secret.
      if (prepared.token !== undefined) credentials.invalidate(prepared.token);
      drain(stream);
      request.log.warn({ code: 'GW_PROXY_UPSTREAM_AUTH', connection: connection.id, upstreamStatus: status }, 'upstream refused the bridge credentials');
      note(record, { code: 'GW_PROXY_UPSTREAM_AUTH' });
      reply.removeHeader('www-authenticate');
      return reply.code(502).type(SCIM_CONTENT_TYPE).send(renderErrorBody(502, 'the upstream SCIM service refused the bridge credentials'));
    }
    let body: Buffer;
    try {
      body = await readBounded(stream, settings.maxResponseBytes);
    } catch (error) {
      breaker.failed();
      const tooLarge = (error as Error).message === 'too large';
      const failure = tooLarge ? { status: 502 as const, detail: 'the upstream SCIM answer is too large' } : classifyUpstreamError(error);
      note(record, { outcome: 'failed', ...('code' in failure ? { code: failure.code } : {}) });
      return reply.code(failure.status).type(SCIM_CONTENT_TYPE).send(renderErrorBody(failure.status, failure.detail));
    }
    if ((status === 502 || status === 503 || status === 504) && bufferable(request)) {
      const jobId = await tryBuffer(request);
      if (jobId !== undefined) return sendBuffered(reply, jobId);
    }
    // A created resource's timeline is under the id the upstream gave it.
    if (record?.op === 'create' && status >= 200 && status < 300) record.id = idOf(body);
    if (body.length === 0) return reply.send();
    const contentType = String(reply.getHeader('content-type') ?? '');
    if (!/json/i.test(contentType)) return reply.send(body);
    return reply.send(fixResponseBody(body.toString('utf8'), targetBase, prepared.publicBase));
  }

  /**
   * Drops the refused cached token, gets a new one and sends the same request once more through
   * reply-from (same path, query and held body; the new credentials go in rewriteRequestHeaders).
   * Its answer comes back through relayAnswer: a second 401 is then the upstream's verdict.
   */
  async function renewAndResend(request: FastifyRequest, reply: FastifyReply, prepared: Forwarding): Promise<unknown> {
    const record = observed.get(request);
    credentials.invalidate(prepared.token!);
    prepared.renewed = true;
    // The refusal's headers were copied onto the reply; none of them describe the next answer.
    for (const name of prepared.upstreamHeaders) reply.removeHeader(name);
    prepared.upstreamHeaders = [];
    request.log.info({ code: 'GW_PROXY_UPSTREAM_AUTH', connection: connection.id }, 'upstream refused a cached token: sending once more with a new one');
    try {
      const auth = await credentials.headers();
      prepared.credentials = auth.headers;
      if (auth.token === undefined) delete prepared.token;
      else prepared.token = auth.token;
      prepared.fromCache = auth.fromCache === true;
    } catch {
      breaker.failed();
      note(record, { outcome: 'failed', code: 'GW_DELIVERY_AUTH' });
      if (bufferable(request)) {
        const jobId = await tryBuffer(request);
        if (jobId !== undefined) return sendBuffered(reply, jobId);
      }
      const failure = 'the bridge could not obtain credentials for the upstream SCIM service';
      return reply.code(502).type(SCIM_CONTENT_TYPE).send(renderErrorBody(502, failure));
    }
    const { dest, options: fromOptions } = prepared.from!;
    return reply.from(dest, fromOptions as Parameters<FastifyReply['from']>[1]);
  }

  function publicBaseOf(request: FastifyRequest): string {
    const origin = options.publicUrl ? options.publicUrl.replace(/\/+$/, '') : `${request.protocol}://${request.host}`;
    return `${origin}${connection.basePath}`;
  }
}

function note(record: Observed | undefined, fields: Partial<Observed>): void {
  if (record) Object.assign(record, fields);
}

/** The `id` of a JSON resource body, when it is a usable string. */
function idOf(body: Buffer): string | undefined {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' && id.length > 0 && id.length <= 1_024 ? id : undefined;
  } catch {
    return undefined;
  }
}

function unavailable(detail: string, retryAfterMs: number): ScimError {
  return new ScimError(503, undefined, detail, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
}

function resourceTypeOf(url: string, basePath: string): ResourceType | undefined {
  const rest = (url.split('?')[0] ?? '').slice(basePath.length).toLowerCase();
  if (rest === '/users' || rest.startsWith('/users/')) return 'User';
  if (rest === '/groups' || rest.startsWith('/groups/')) return 'Group';
  return undefined;
}

async function readBounded(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > limit) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new Error('too large');
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function drain(stream: NodeJS.ReadableStream): void {
  stream.on('error', () => {});
  stream.resume();
}
