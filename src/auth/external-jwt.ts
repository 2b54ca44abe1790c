import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';

/**
 * Access tokens from an external authorisation server (Entra ID, Keycloak, Okta…): a JWT whose
 * signature checks against the server's JWKS, with the configured issuer and audience, not
 * expired, and carrying every required scope. The JWKS is fetched on first use and cached by
 * jose (refetched when a token names an unknown key, at most every 30 s).
 * @see https://github.com/panva/jose/blob/main/docs/jwks/remote/functions/createRemoteJWKSet.md
 */

export interface ExternalJwtConfig {
  issuer: string;
  audience: string | string[];
  jwksUrl: string;
  requiredScopes: string[];
  algorithms: string[];
  clockToleranceSeconds: number;
}

export type ExternalJwtOutcome =
  | { ok: true; subject?: string }
  | { ok: false; reason: string; unavailable?: boolean };

export interface ExternalJwtVerifier {
  readonly issuer: string;
  verify(token: string): Promise<ExternalJwtOutcome>;
}

export function createExternalJwtVerifier(config: ExternalJwtConfig, options: { timeoutMs?: number } = {}): ExternalJwtVerifier {
  const jwks = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: options.timeoutMs ?? 5_000, cooldownDuration: 30_000 });
  return {
    issuer: config.issuer,
    async verify(token) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: config.algorithms,
          clockTolerance: config.clockToleranceSeconds,
          requiredClaims: ['exp'],
        }));
      } catch (error) {
        const code = (error as { code?: string }).code ?? 'invalid';
        // The key set could not be fetched: the token may be fine, the server is not.
        // (jose's plain JOSEError is a non-200 or non-JSON JWKS answer; a non-JOSE error a network one.)
        const unavailable =
          error instanceof errors.JWKSTimeout || code === 'ERR_JOSE_GENERIC' || code === 'ERR_JWKS_INVALID' || !(error instanceof errors.JOSEError);
        return { ok: false, reason: `external token: ${code}`, unavailable };
      }
      const granted = grantedScopes(payload);
      const missing = config.requiredScopes.filter((scope) => !granted.has(scope));
      if (missing.length > 0) return { ok: false, reason: `external token: missing scope ${missing.join(' ')}` };
      return { ok: true, ...(payload.sub ? { subject: payload.sub } : {}) };
    },
  };
}

/**
 * Scopes as the common servers write them: `scope` (RFC 9068, space-separated), `scp` (Entra
 * delegated tokens, string or array) and `roles` (Entra app-only tokens, array).
 */
function grantedScopes(payload: JWTPayload): Set<string> {
  const granted = new Set<string>();
  for (const claim of [payload.scope, payload.scp, payload.roles]) {
    if (typeof claim === 'string') for (const s of claim.split(' ')) if (s) granted.add(s);
    if (Array.isArray(claim)) for (const s of claim) if (typeof s === 'string') granted.add(s);
  }
  return granted;
}
