import Fastify from 'fastify';
import type { BridgeConfig } from '../config/schema.js';
import type { Runtime } from '../runtime.js';
import { registerHealthRoutes, registerMetricsRoute } from './http-routes.js';

/**
 * The small listener of `metrics.listen`: /livez, /readyz and /metrics without credentials, in
 * every process that has it configured. This is how worker-only processes are probed and
 * scraped; bind it to an interface only the orchestrator and Prometheus reach.
 */

export interface OpsListener {
  url: string;
  close(): Promise<void>;
}

export async function startOpsListener(runtime: Runtime, config: BridgeConfig, listen: { host: string; port: number }): Promise<OpsListener> {
  const app = Fastify({ logger: false });
  registerHealthRoutes(app, runtime);
  if (config.metrics.enabled) registerMetricsRoute(app, runtime);
  await app.listen({ host: listen.host, port: listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  return {
    url: `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`,
    close: () => app.close(),
  };
}
