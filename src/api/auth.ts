import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secret check for one connection. Secrets are compared as SHA-256 digests with
 * `timingSafeEqual`, and every configured secret is always compared (no early exit), so neither
 * the length nor the position of a match leaks through timing. Several secrets allow rotation
 * without downtime: add the new one, switch Entra over, remove the old one.
 */
export function createBearerCheck(secrets: readonly string[]): (authorization: string | undefined) => boolean {
  const digests = secrets.map(digest);
  return (authorization) => {
    const token = parseBearer(authorization);
    if (token === undefined) return false;
    const presented = digest(token);
    let matched = false;
    for (const expected of digests) matched = timingSafeEqual(presented, expected) || matched;
    return matched;
  };
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750 §2.1). */
export function parseBearer(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
