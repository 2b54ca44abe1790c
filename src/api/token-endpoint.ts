import rateLimit from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokens } from '../auth/access-tokens.js';
import type { ConnectionAuthenticator } from '../auth/authenticator.js';
import { sha256Hex } from '../auth/secret-hash.js';
import { sharedCounterOptions, type RequestCounter } from './connection-rate-limit.js';

/**
 * The OAuth2 token endpoint of one connection: the client credentials grant, as Entra's
 * "OAuth2 client credentials grant" authentication method uses it. Form-encoded requests,
 * `client_secret_basic` or `client_secret_post`, an optional `scope`, and JSON answers that are
 * never cached. Errors follow RFC 6749 §5.2 (`error` + `error_description`, 400 or 401).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */

export interface TokenEndpointOptions {
  path: string;
  connectionId: string;
  authenticator: ConnectionAuthenticator;
  accessTokens: AccessTokens;
  /** Scopes a client may ask for; empty: a requested scope is ignored. A function is read per request (reloaded config). */
  scopes: readonly string[] | (() => readonly string[]);
  /** Failed client authentications allowed per client id and address per window; false: no limit. */
  failedAuthLimit?: { max: number; windowMs: number } | false;
  /** Where failed client authentications are counted (Redis, shared by every API process); in process without. */
  failureCounter?: RequestCounter;
}

/** A token request is a few hundred bytes; nothing legitimate comes near this. */
const TOKEN_REQUEST_LIMIT = 8_192;

const FORM = /^application\/x-www-form-urlencoded\s*(;|$)/i;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope' | 'server_error';

class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : error === 'server_error' ? 500 : 400,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

export async function tokenEndpointPlugin(app: FastifyInstance, options: TokenEndpointOptions): Promise<void> {
  const { authenticator, accessTokens, connectionId } = options;
  const scopesOf = typeof options.scopes === 'function' ? options.scopes : () => options.scopes as readonly string[];
  const limit = options.failedAuthLimit ?? false;
  /** The throttle key of a request: its source address and the client id it claims. */
  const failureKeys = new WeakMap<FastifyRequest, string>();
  let countFailure: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  if (limit) {
    // Only the limiter function is used (nothing is limited per route): it counts failures alone.
    // In Redis when the runtime gives a counter: every API process shares one count.
    await app.register(rateLimit, { global: false, ...(options.failureCounter ? sharedCounterOptions(options.failureCounter, 'tokenfail:') : {}) });
    countFailure = app.createRateLimit({
      max: limit.max,
      timeWindow: limit.windowMs,
      // Hashed: the key holds the address and a client id as sent, and its length is then fixed.
      keyGenerator: (request) => sha256Hex(failureKeys.get(request) ?? request.ip),
    });
  }

  // Every body is read as text; the handler decides whether it is a form (an unknown content
  // type must get an OAuth error, not Fastify's 415).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: TOKEN_REQUEST_LIMIT }, (_req, body, done) => done(null, body));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof OAuthError) return sendError(request, reply, error);
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(request, reply, new OAuthError('invalid_request', 'request body is too large', 413));
    if (error.statusCode !== undefined && error.statusCode < 500) {
      return sendError(request, reply, new OAuthError('invalid_request', 'malformed token request'));
    }
    request.log.error({ err: error }, 'token request failed');
    return sendError(request, reply, new OAuthError('server_error', `internal error (request ${request.id})`));
  });

  app.post(options.path, async (request, reply) => {
    if (!FORM.test(request.headers['content-type'] ?? '')) {
      throw new OAuthError('invalid_request', 'send the token request as application/x-www-form-urlencoded');
    }
    const form = parseForm(typeof request.body === 'string' ? request.body : '');
    if (!form.get('grant_type')) throw new OAuthError('invalid_request', 'grant_type is missing');

    const clientId = await authenticateClient(request, form);
    if (form.get('grant_type') !== 'client_credentials') {
      throw new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported');
    }
    const scope = grantedScope(form.get('scope'));
    const issued = await accessTokens.issue({ clientId, ...(scope ? { scope } : {}) });
    request.log.info({ connection: connectionId, clientId }, 'access token issued');
    return reply
      .code(200)
      .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
      .type('application/json; charset=utf-8')
      .send({ access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, ...(scope ? { scope } : {}) });
  });

  /** The authenticated client id, from HTTP Basic or from the form, never both (RFC 6749 §2.3). */
  async function authenticateClient(request: FastifyRequest, form: Map<string, string>): Promise<string> {
    const basic = parseBasic(request.headers.authorization);
    const fromBody = form.get('client_secret');
    if (basic && fromBody !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method, not both');
    const bodyId = form.get('client_id');
    if (basic && bodyId !== undefined && bodyId !== basic.id) throw new OAuthError('invalid_request', 'client_id differs from the Basic credentials');
    const credentials = basic ?? (bodyId !== undefined && fromBody !== undefined ? { id: bodyId, secret: fromBody } : undefined);
    failureKeys.set(request, `${connectionId} ${request.ip} ${credentials?.id ?? bodyId ?? ''}`);
    await refuseWhenThrottled(request);
    if (!credentials || !(await authenticator.verifyClient(credentials.id, credentials.secret))) {
      request.log.info({ code: 'GW_AUTH_REJECTED', connection: connectionId, reason: credentials ? 'wrong client credentials' : 'no client credentials' }, 'token request refused');
      await countFailure?.(request);
      throw new OAuthError('invalid_client', 'client authentication failed');
    }
    return credentials.id;
  }

  /**
   * 429 (RFC 6585) with Retry-After once a client id from one address failed `max` times in the
   * window: the attempt is not checked at all, so guessing stops until the window ends.
   */
  async function refuseWhenThrottled(request: FastifyRequest): Promise<void> {
    if (!countFailure || !limit) return;
    const state = await countFailure(request, { increment: false });
    if (state.isAllowed || state.remaining > 0) return;
    const seconds = Math.max(1, state.ttlInSeconds);
    request.log.warn({ code: 'GW_AUTH_THROTTLED', connection: connectionId, failures: limit.max }, 'token requests throttled after failed client authentications');
    throw new OAuthError('invalid_client', `too many failed client authentications; retry in ${seconds} s`, 429, { 'retry-after': String(seconds) });
  }

  /** The scope the token gets: what was asked for, if allowed; everything allowed if nothing was. */
  function grantedScope(requested: string | undefined): string | undefined {
    const allowed = new Set(scopesOf());
    if (allowed.size === 0) return undefined;
    const asked = (requested ?? '').split(' ').filter(Boolean);
    if (asked.length === 0) return [...allowed].join(' ');
    const refused = asked.filter((s) => !SCOPE_TOKEN.test(s) || !allowed.has(s));
    if (refused.length > 0) throw new OAuthError('invalid_scope', `scope not allowed for this client; allowed: ${[...allowed].join(' ')}`);
    return [...new Set(asked)].join(' ');
  }
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: OAuthError): FastifyReply {
  if (error.status >= 500) request.log.error({ code: error.error }, 'token request failed');
  const headers: Record<string, string> = { 'cache-control': 'no-store', pragma: 'no-cache', ...error.headers };
  if (error.status === 401) headers['www-authenticate'] = 'Basic realm="scim-bridge", charset="UTF-8"';
  return reply
    .code(error.status)
    .headers(headers)
    .type('application/json; charset=utf-8')
    .send({ error: error.error, error_description: error.description });
}

/** Form fields; a field given twice is an error (RFC 6749 §3.2). */
function parseForm(body: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (fields.has(name)) throw new OAuthError('invalid_request', `parameter ${name} is given more than once`);
    fields.set(name, value);
  }
  return fields;
}

/**
 * `Authorization: Basic base64(id:secret)`, where id and secret are form-encoded first
 * (RFC 6749 §2.3.1). Undefined when the header is not Basic; invalid_client when it is broken.
 */
function parseBasic(authorization: string | undefined): { id: string; secret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization ?? '');
  if (!match) {
    if (/^Basic\b/i.test(authorization ?? '')) throw new OAuthError('invalid_client', 'malformed Basic credentials');
    return undefined;
  }
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError('invalid_client', 'malformed Basic credentials');
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError('invalid_client', 'malformed Basic credentials');
  }
}

function formDecode(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, ' '));
}
