import type { FastifyRequest } from 'fastify';
import type { ConnectionAuthenticator } from '../auth/authenticator.js';
import type { ConnectionConfig } from '../config/schema.js';
import { ScimError } from '../scim/errors.js';

/**
 * The auth check of a connection's SCIM routes, whatever the connection's mode (a bridged SCIM
 * service provider or a proxied SCIM target), run on request (before the body is read).
 * Every refusal looks the same to the client (status, header, detail), whatever the reason,
 * so the answer is no oracle; the reason goes to the log (code GW_AUTH_REJECTED), never the
 * credential. A credential that cannot be checked right now (the external JWKS is down) gets a
 * 503, so Entra retries instead of flagging the credentials as wrong.
 */

/** Also used by the admin routes' bearer tokens. */
export { parseBearer } from '../auth/authenticator.js';

export const UNAUTHORIZED_DETAIL = 'missing or invalid bearer token';

export function unauthorized(): ScimError {
  // The body is never read, so the connection is closed: a half-read upload would otherwise
  // keep the socket busy and stall a graceful shutdown until the client gives up.
  return new ScimError(401, undefined, UNAUTHORIZED_DETAIL, { 'www-authenticate': 'Bearer realm="scim-bridge"', connection: 'close' });
}

export function connectionAuthHook(connection: Pick<ConnectionConfig, 'id'>, authenticator: ConnectionAuthenticator) {
  const connectionId = connection.id;
  return async (request: FastifyRequest): Promise<void> => {
    const outcome = await authenticator.authenticate(request.headers.authorization);
    if (outcome.ok) return;
    if (outcome.unavailable) {
      request.log.warn({ code: 'GW_AUTH_JWKS_UNAVAILABLE', connection: connectionId, reason: outcome.reason }, 'cannot check the access token');
      throw new ScimError(503, undefined, 'the credentials cannot be checked right now; retry later', { 'retry-after': '30', connection: 'close' });
    }
    request.log.info({ code: 'GW_AUTH_REJECTED', connection: connectionId, reason: outcome.reason }, 'scim request refused');
    throw unauthorized();
  };
}
