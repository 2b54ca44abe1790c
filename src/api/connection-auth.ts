import type { onRequestAsyncHookHandler } from 'fastify';
import type { ConnectionConfig } from '../config/schema.js';
import { ScimError } from '../scim/errors.js';
import { createBearerCheck } from './auth.js';

/**
 * The `onRequest` hook that authenticates Entra for one connection, whatever the connection's
 * mode (a bridged SCIM service provider or a proxied SCIM target).
 */
export function connectionAuthHook(connection: ConnectionConfig): onRequestAsyncHookHandler {
  const authorized = createBearerCheck(connection.auth.bearer);
  return async (request) => {
    if (!authorized(request.headers.authorization)) {
      // One detail for every failure (missing, malformed, wrong, other connection's secret).
      // The body is never read, so the connection is closed: a half-read upload would otherwise
      // keep the socket busy and stall a graceful shutdown until the client gives up.
      throw new ScimError(401, undefined, 'missing or invalid bearer token', {
        'www-authenticate': 'Bearer realm="scim-bridge"',
        connection: 'close',
      });
    }
  };
}
