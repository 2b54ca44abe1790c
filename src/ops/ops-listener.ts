import Fastify from 'fastify';
import { guardedServerOptions, scimNotFoundHandler } from '../app.js';
import { scimErrorHandler } from '../api/scim-errors.js';
import type { BridgeConfig } from '../config/schema.js';
import type { Runtime } from '../runtime.js';
import { registerHealthRoutes, registerMetrics } from './http-routes.js';

/**
 * The small listener of `metrics.listen`, in every process that has it configured: /livez and
 * /readyz without credentials, and /metrics with the same credentials as on the main listener
 * (the admin ones or a scrape token of `metrics.tokens`; none with `metrics.public`). This is
 * how worker-only processes are probed and scraped; bind it to an interface only the
 * orchestrator and Prometheus reach.
 */

export interface OpsListener {
  url: string;
  close(): Promise<void>;
}

export async function startOpsListener(runtime: Runtime, config: BridgeConfig, listen: { host: string; port: number }): Promise<OpsListener> {
  // The main listener's limits and error answers: this port is private, not unguarded.
  const app = Fastify({ logger: false, ...guardedServerOptions(config.limits) });
  app.setErrorHandler(scimErrorHandler);
  app.setNotFoundHandler(scimNotFoundHandler);
  registerHealthRoutes(app, runtime);
  await registerMetrics(app, runtime, config);
  await app.listen({ host: listen.host, port: listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  return {
    url: `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    close: () => app.close(),
  };
}
