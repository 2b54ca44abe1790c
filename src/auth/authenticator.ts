import type { ConnectionAuthConfig } from '../config/schema.js';
import { looksLikeJwt, peekIssuer, type AccessTokens } from './access-tokens.js';
import type { ExternalJwtVerifier } from './external-jwt.js';
import { toSecretHash, verifyAny, verifySecret } from './secret-hash.js';
import type { SecretCache } from './secret-cache.js';
import { bearerTokenId } from './secret-store.js';

/**
 * Who may call one connection's SCIM routes, and who may get a token at its token endpoint.
 * A bearer credential is, in this order: a secret from config (compared with every configured
 * hash), a managed secret (`sbt_<id>_…`, found by id, then compared), or a JWT (the bridge's
 * own access token, or the external authorisation server's, told apart by `iss`). Every check
 * costs O(1) hashing or one signature check; Redis is read only through the secret cache.
 */

export type AuthOutcome =
  | { ok: true; method: 'secret' | 'managed-secret' | 'access-token' | 'external-jwt'; subject?: string }
  /** `unavailable`: the credential could not be checked (JWKS down); not the caller's fault. */
  | { ok: false; reason: string; unavailable?: boolean };

export interface ConnectionAuthenticator {
  authenticate(authorization: string | undefined): Promise<AuthOutcome>;
  /** True when `secret` is a live secret of OAuth client `clientId` (config or managed). */
  verifyClient(clientId: string, secret: string): Promise<boolean>;
}

export interface AuthenticatorDeps {
  config: ConnectionAuthConfig;
  secrets: SecretCache;
  /** Present when the connection has its own token endpoint (`auth.oauth2`). */
  accessTokens?: AccessTokens;
  /** Present when the connection accepts an external server's tokens (`auth.jwt`). */
  externalJwt?: ExternalJwtVerifier;
}

export function createAuthenticator({ config, secrets, accessTokens, externalJwt }: AuthenticatorDeps): ConnectionAuthenticator {
  const configured = config.bearer.map(toSecretHash);
  const configuredClients = new Map<string, ReturnType<typeof toSecretHash>[]>();
  for (const client of config.oauth2?.clients ?? []) {
    configuredClients.set(client.id, [...(configuredClients.get(client.id) ?? []), toSecretHash(client.secret)]);
  }

  return {
    async authenticate(authorization) {
      const token = parseBearer(authorization);
      if (token === undefined) return { ok: false, reason: 'no bearer token' };
      if (configured.length > 0 && verifyAny(token, configured)) return { ok: true, method: 'secret' };

      const id = bearerTokenId(token);
      if (id !== undefined) {
        const record = await secrets.bearer(id);
        if (!record || !verifySecret(token, record.hash)) return { ok: false, reason: 'unknown, expired or revoked managed secret' };
        secrets.markUsed(record.id);
        return { ok: true, method: 'managed-secret', subject: record.id };
      }

      if (looksLikeJwt(token)) {
        const issuer = peekIssuer(token);
        if (accessTokens && issuer === accessTokens.issuer) {
          const verdict = await accessTokens.verify(token);
          return verdict.ok ? { ok: true, method: 'access-token', subject: verdict.claims.clientId } : verdict;
        }
        if (externalJwt && issuer === externalJwt.issuer) {
          const verdict = await externalJwt.verify(token);
          return verdict.ok ? { ok: true, method: 'external-jwt', ...(verdict.subject ? { subject: verdict.subject } : {}) } : verdict;
        }
        return { ok: false, reason: 'token from an issuer this connection does not trust' };
      }
      return { ok: false, reason: 'unknown secret' };
    },

    async verifyClient(clientId, secret) {
      const fromConfig = configuredClients.get(clientId);
      if (fromConfig && verifyAny(secret, fromConfig)) return true;
      let match: string | undefined;
      // Every secret of the client is compared (no early exit), as for configured ones.
      for (const record of await secrets.client(clientId)) if (verifySecret(secret, record.hash)) match = record.id;
      if (match !== undefined) secrets.markUsed(match);
      return match !== undefined;
    },
  };
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750 §2.1). */
export function parseBearer(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}
