import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { BridgeError } from '../lib/errors.js';
import type { TargetAuth } from '../config/schema.js';
import type { TargetTlsMaterial } from '../config/target-tls.js';
import { targetConnect } from './tls-connect.js';

/**
 * OAuth2 client-credentials tokens for a target, through openid-client. One token is shared by
 * every concurrent job of the connection (a single request in flight), reused until shortly
 * before it expires, and dropped when the target refuses it so the next attempt gets a new one.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @see https://github.com/panva/openid-client#client-credentials-grant
 */

export type OAuth2Auth = Extract<TargetAuth, { type: 'oauth2' }>;

export interface TokenSource {
  /** A valid access token, from the cache or a new grant. Throws BridgeError GW_DELIVERY_AUTH. */
  getToken(): Promise<string>;
  /** The same, saying whether it is the cached token (false: granted for this or a concurrent call). */
  token(): Promise<{ token: string; fromCache: boolean }>;
  /** Forgets `token` if it is still the cached one (the target answered 401 with it). */
  invalidate(token: string): void;
  /** Closes the token endpoint's connections (only held with `tls`). */
  close(): Promise<void>;
}

export interface TokenSourceOptions {
  /** Timeout of a token request. */
  timeoutMs: number;
  /** Client certificate and CA of the target: token requests present them too (RFC 8705 style). */
  tls?: TargetTlsMaterial;
  /** Clock, for tests. */
  now?: () => number;
}

/** A token is renewed this long before it expires, so it does not expire in flight. */
export const TOKEN_RENEW_BEFORE_MS = 60_000;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function createTokenSource(auth: OAuth2Auth, options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const config = createOidcConfiguration(auth, options.timeoutMs);
  // Without TLS options the global fetch is used (as openid-client does by default); with them,
  // undici's fetch through an Agent that carries the certificate, key and CA.
  const tlsConnect = options.tls ? targetConnect(options.tls, options.timeoutMs) : undefined;
  const agent = tlsConnect ? new Agent({ connect: tlsConnect.connect }) : undefined;
  if (agent && tlsConnect) {
    config[oidc.customFetch] = (url, init) =>
      (undiciFetch(url, { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1]) as unknown as Promise<Response>).catch(
        (error: unknown) => {
          throw tlsConnect.explain(error);
        },
      );
  }
  const parameters: Record<string, string> = auth.scope ? { scope: auth.scope } : {};
  let cached: { token: string; renewAt: number } | undefined;
  let inflight: Promise<string> | undefined;

  async function grant(): Promise<string> {
    try {
      const response = await oidc.clientCredentialsGrant(config, parameters);
      // The server's own `expires_in`, on this source's clock: openid-client's expiresIn() counts
      // down on the wall clock from when it parsed the answer, so it can already be a second less.
      const seconds = typeof response.expires_in === 'number' && Number.isFinite(response.expires_in) ? response.expires_in : undefined;
      const expiresInMs = (seconds ?? Number.POSITIVE_INFINITY) * 1000;
      const renewAt = now() + expiresInMs - Math.min(TOKEN_RENEW_BEFORE_MS, expiresInMs / 2);
      cached = { token: response.access_token, renewAt };
      return response.access_token;
    } catch (error) {
      throw new BridgeError('GW_DELIVERY_AUTH', `token endpoint failed: ${describeGrantError(error)}`, { cause: error });
    }
  }

  async function token(): Promise<{ token: string; fromCache: boolean }> {
    if (cached && now() < cached.renewAt) return { token: cached.token, fromCache: true };
    inflight ??= grant().finally(() => {
      inflight = undefined;
    });
    return { token: await inflight, fromCache: false };
  }

  return {
    token,
    async getToken() {
      return (await token()).token;
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
    async close() {
      await agent?.close();
    },
  };
}

function createOidcConfiguration(auth: OAuth2Auth, timeoutMs: number): oidc.Configuration {
  const tokenUrl = new URL(auth.tokenUrl);
  const insecure = tokenUrl.protocol === 'http:';
  if (insecure && !LOOPBACK_HOSTS.has(tokenUrl.hostname)) {
    throw new BridgeError('GW_CONFIG_INVALID', 'oauth2 tokenUrl must use https (http is allowed for loopback hosts only)');
  }
  const clientAuth =
    auth.clientAuth === 'post' ? oidc.ClientSecretPost(auth.clientSecret) : oidc.ClientSecretBasic(auth.clientSecret);
  const config = new oidc.Configuration(
    { issuer: tokenUrl.origin, token_endpoint: tokenUrl.href },
    auth.clientId,
    undefined,
    clientAuth,
  );
  config.timeout = Math.max(1, Math.ceil(timeoutMs / 1000));
  if (insecure) oidc.allowInsecureRequests(config);
  return config;
}

/**
 * What went wrong, in words plus codes, never the endpoint's own text: an error description or a
 * body may echo what we sent. `<status> <error>` for an RFC 6749 §5.2 error answer; for an answer
 * that is not a token response, what was wrong with it; for a broken connection, its code.
 */
function describeGrantError(error: unknown): string {
  if (error instanceof oidc.ResponseBodyError) return `${error.status} ${error.error}`;
  const facts = grantErrorFacts(error);
  const status = facts.status === undefined ? '' : `answered ${facts.status}`;
  if (facts.timeout) return `no answer within the timeout${status ? ` (${status})` : ''}`;
  switch (facts.oauthCode) {
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
      return `${status || 'answered'} with a body that is not JSON${facts.contentType ? ` (${facts.contentType})` : ''} (OAUTH_RESPONSE_IS_NOT_JSON)`;
    case 'OAUTH_PARSE_ERROR':
      return `${status || 'answered'} with malformed JSON or a body cut short${facts.netCode ? ` (${facts.netCode})` : ''} (OAUTH_PARSE_ERROR)`;
    case 'OAUTH_INVALID_RESPONSE':
      return facts.message?.includes('"access_token"')
        ? `${status || 'answered'} without a usable access_token (OAUTH_INVALID_RESPONSE)`
        : `${status || 'answered'} with an invalid token response (OAUTH_INVALID_RESPONSE)`;
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
      return `${status || 'answered'} (OAUTH_RESPONSE_IS_NOT_CONFORM)`;
    default:
      break;
  }
  if (facts.netCode !== undefined && !status) return `the connection failed (${facts.netCode})`;
  const parts = [status || undefined, facts.netCode ?? facts.oauthCode, facts.name].filter((part) => part !== undefined);
  return parts.join(' ') || 'unknown error';
}

interface GrantErrorFacts {
  status?: number;
  /** openid-client's (oauth4webapi's) OAUTH_* code. */
  oauthCode?: string;
  /** A socket, DNS or TLS code (fetch wraps those as its cause). */
  netCode?: string;
  name?: string;
  /** The processing error's own message (names fields, never values), for OAUTH_INVALID_RESPONSE. */
  message?: string;
  contentType?: string;
  timeout: boolean;
}

function grantErrorFacts(error: unknown): GrantErrorFacts {
  const facts: GrantErrorFacts = { timeout: false };
  const name = (error as { name?: unknown } | undefined)?.name;
  if (typeof name === 'string') facts.name = name;
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth += 1) {
    const { status, code, cause, name: currentName, message, headers } = current as {
      status?: unknown;
      code?: unknown;
      cause?: unknown;
      name?: unknown;
      message?: unknown;
      headers?: unknown;
    };
    if (typeof status === 'number') facts.status ??= status;
    if (typeof code === 'string' && code.startsWith('OAUTH_')) {
      facts.oauthCode ??= code;
      if (typeof message === 'string' && current instanceof Error && current.name === 'OperationProcessingError') facts.message ??= message;
    } else if (typeof code === 'string') facts.netCode ??= code;
    if (currentName === 'TimeoutError' || currentName === 'AbortError') facts.timeout = true;
    if (headers && typeof (headers as Headers).get === 'function') {
      const type = (headers as Headers).get('content-type');
      if (type) facts.contentType ??= type.split(';')[0]!.trim().slice(0, 100);
    }
    current = cause;
  }
  return facts;
}
