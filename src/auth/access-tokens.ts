import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';

/**
 * The access tokens the bridge's own OAuth2 token endpoint issues: HS256 JWTs, signed with a
 * per-connection key, that name the connection in `iss`/`aud`, so a token of one connection
 * never opens another. Verifying one is an HMAC, no Redis call.
 * @see https://www.rfc-editor.org/rfc/rfc9068 (the claims follow the JWT access-token profile)
 */

export interface IssuedToken {
  token: string;
  expiresIn: number;
  scope?: string;
}

export interface TokenClaims {
  clientId: string;
  scope?: string;
}

export interface AccessTokens {
  /** The `iss` of this connection's tokens; the authenticator routes JWTs by it. */
  readonly issuer: string;
  issue(claims: TokenClaims): Promise<IssuedToken>;
  /** The claims of a valid token of this connection, or a reason it is not one. */
  verify(token: string): Promise<{ ok: true; claims: TokenClaims } | { ok: false; reason: string }>;
}

export function createAccessTokens(connectionId: string, key: Uint8Array, ttlSeconds: number): AccessTokens {
  const issuer = `urn:scim-bridge:${connectionId}`;
  const audience = `urn:scim-bridge:${connectionId}:scim`;
  return {
    issuer,
    async issue({ clientId, scope }) {
      const jwt = new SignJWT(scope ? { scope, client_id: clientId } : { client_id: clientId })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(clientId)
        .setJti(randomBytes(12).toString('base64url'))
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`);
      return { token: await jwt.sign(key), expiresIn: ttlSeconds, ...(scope ? { scope } : {}) };
    },
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, { issuer, audience, algorithms: ['HS256'], typ: 'at+jwt', requiredClaims: ['exp', 'sub'] });
        return { ok: true, claims: { clientId: String(payload.sub), ...(typeof payload.scope === 'string' ? { scope: payload.scope } : {}) } };
      } catch (error) {
        return { ok: false, reason: `access token: ${(error as { code?: string }).code ?? 'invalid'}` };
      }
    },
  };
}

/** The unverified `iss` of a JWT-shaped token (to pick the verifier), or undefined. */
export function peekIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** A compact JWS: three base64url parts. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

/**
 * The signing key: from config (`oauth2.signingKey`, at least 32 characters) when given, else a
 * random 32-byte key created once in Redis (SET NX, so every API process of the connection
 * agrees on it). A key in Redis is as safe as the Redis data itself; give one from a secret
 * store in production so it survives a Redis loss and stays out of Redis.
 */
export async function resolveSigningKey(configured: string | undefined, redis: Redis, redisKey: string): Promise<Uint8Array> {
  if (configured !== undefined) return new TextEncoder().encode(configured);
  await redis.set(redisKey, randomBytes(32).toString('base64url'), 'NX');
  const stored = await redis.get(redisKey);
  if (!stored) throw new Error('the OAuth signing key vanished from Redis right after it was written');
  return Buffer.from(stored, 'base64url');
}
