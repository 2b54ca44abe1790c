import type { Redis } from 'ioredis';
import type { ConnectionConfig } from '../config/schema.js';
import { createAccessTokens, resolveSigningKey, type AccessTokens } from './access-tokens.js';
import { createAuthenticator, type ConnectionAuthenticator } from './authenticator.js';
import { createExternalJwtVerifier } from './external-jwt.js';
import { createSecretCache } from './secret-cache.js';
import { authKeys, createSecretStore } from './secret-store.js';

/** Everything that authenticates one connection, wired from its config and the API's Redis. */
export interface ConnectionAuth {
  authenticator: ConnectionAuthenticator;
  /** The connection's token issuer, when it has a token endpoint (`auth.oauth2`). */
  accessTokens?: AccessTokens;
}

export async function createConnectionAuth(redis: Redis, redisPrefix: string, connection: ConnectionConfig): Promise<ConnectionAuth> {
  const { auth } = connection;
  const keys = authKeys(redisPrefix, connection.id);
  const secrets = createSecretCache(createSecretStore(redis, redisPrefix, connection.id), { ttlMs: auth.managedSecretsCacheMs });
  const accessTokens = auth.oauth2
    ? createAccessTokens(connection.id, await resolveSigningKey(auth.oauth2.signingKey, redis, keys.signingKey), auth.oauth2.tokenTtlSeconds)
    : undefined;
  const externalJwt = auth.jwt ? createExternalJwtVerifier(auth.jwt) : undefined;
  return {
    authenticator: createAuthenticator({ config: auth, secrets, ...(accessTokens ? { accessTokens } : {}), ...(externalJwt ? { externalJwt } : {}) }),
    ...(accessTokens ? { accessTokens } : {}),
  };
}
