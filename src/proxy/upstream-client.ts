import { Dispatcher, Pool } from 'undici';
import type { ConnectionConfig, TargetTlsConfig } from '../config/schema.js';
import { loadTargetTls } from '../config/target-tls.js';
import { createAuthHeaders, type AuthHeaders } from '../delivery/http-client.js';
import { targetConnect } from '../delivery/tls-connect.js';

/**
 * What a `mode: proxy` connection needs to call its upstream that depends on `target.tls`: the
 * connection pool (its connector carries the client certificate), the credentials (an OAuth2
 * token endpoint is called with the same certificate) and the TLS error explainer. When a config
 * reload brings new contents of the TLS files (rotated certificates; config/reload.ts applies
 * that to proxy connections too), the next request builds them anew from the live config: new
 * connections, new handshakes, a new token; the old pool closes once its requests are done.
 */

export interface UpstreamParts {
  pool: Pool;
  credentials: AuthHeaders;
  /** The error, or one naming the TLS alert the socket got (tls-connect.ts). */
  explain(error: unknown): unknown;
}

export interface UpstreamClient {
  /** The parts in effect, rebuilt first when the live connection's target.tls changed. */
  current(): UpstreamParts;
  /** A dispatcher that always sends through the current pool (for reply-from, fixed at start). */
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

export interface UpstreamClientOptions {
  /** The connection's configuration in effect (runtime.live); the start config when absent. */
  live?: () => ConnectionConfig;
  /** Pool options other than `connect`. */
  pool: Omit<Pool.Options, 'connect'>;
  /** Called when new TLS files could not be loaded (the parts in effect stay). */
  onReloadFailed?: (error: Error) => void;
}

export function createUpstreamClient(connection: ConnectionConfig, options: UpstreamClientOptions): UpstreamClient {
  const origin = new URL(connection.target.baseUrl).origin;
  const build = (tls: TargetTlsConfig | undefined): UpstreamParts => {
    const material = tls === undefined ? undefined : loadTargetTls(tls);
    const connect = targetConnect(material, connection.target.timeoutMs);
    return {
      pool: new Pool(origin, { ...options.pool, connect: connect.connect }),
      credentials: createAuthHeaders(connection.target.auth, connection.target.timeoutMs, material),
      explain: (error) => connect.explain(error),
    };
  };
  let source = connection.target.tls;
  let parts = build(source);
  const retired: Array<Promise<unknown>> = [];

  function current(): UpstreamParts {
    const tls = options.live ? options.live().target.tls : source;
    if (tls === source) return parts;
    try {
      const next = build(tls);
      const old = parts;
      parts = next;
      // Requests still running on the old pool finish there.
      retired.push(Promise.allSettled([old.pool.close(), old.credentials.close()]));
    } catch (error) {
      options.onReloadFailed?.(error as Error);
    }
    source = tls;
    return parts;
  }

  const dispatcher = new CurrentPool(() => current().pool);
  return {
    current,
    dispatcher,
    async close() {
      await Promise.allSettled([parts.pool.close(), parts.credentials.close(), ...retired]);
    },
  };
}

/** Sends every request through whichever pool is current. */
class CurrentPool extends Dispatcher {
  constructor(private readonly pool: () => Dispatcher) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.pool().dispatch(options, handler);
  }
}
