import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { BridgeConfig } from './config/schema.js';
import { pino, type Logger } from 'pino';
import { startOpsListener, type OpsListener } from './ops/ops-listener.js';
import { createRuntime, type Runtime } from './runtime.js';

/**
 * A running bridge process: the HTTP API, the delivery workers, or both (the default), on one
 * Redis. `serve`, `worker`, the demo and the end-to-end tests all start it through here.
 */

export interface StartOptions {
  api?: boolean;
  worker?: boolean;
  redisUrl?: string;
  /** Overrides config.listen (tests listen on port 0). */
  listen?: { host: string; port: number };
  logger?: Parameters<typeof buildApp>[0]['logger'];
  logStream?: NodeJS.WritableStream;
  /** Overrides config.metrics.listen (tests listen on port 0). */
  opsListen?: { host: string; port: number };
}

export interface RunningBridge {
  runtime: Runtime;
  app?: FastifyInstance;
  /** Base URL the API listens on, e.g. http://127.0.0.1:8080. */
  url?: string;
  /** Base URL of the ops listener (`metrics.listen`), when configured. */
  opsUrl?: string;
  close(): Promise<void>;
}

export async function startBridge(config: BridgeConfig, options: StartOptions = {}): Promise<RunningBridge> {
  const api = options.api ?? true;
  const worker = options.worker ?? true;
  const runtime = await createRuntime(config, { redisUrl: options.redisUrl });
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  let ops: OpsListener | undefined;
  try {
    if (api) {
      app = await buildApp({ config, runtime, logger: options.logger, logStream: options.logStream });
      const listen = options.listen ?? config.listen;
      await app.listen({ host: listen.host, port: listen.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : listen.port;
      url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`;
    }
    // Worker-only processes log through pino too, in the same JSON shape as the API's logs.
    const log = app?.log ?? workerLogger(config.logLevel, options);
    for (const warning of runtime.redisWarnings) log.warn({ code: 'GW_STORE_UNSAFE' }, warning);
    runtime.watchMappings(log);
    runtime.watchConfig(log);
    if (worker) await runtime.startWorkers(log);
    if (config.metrics.listen) {
      const listen = options.opsListen ?? config.metrics.listen;
      ops = await startOpsListener(runtime, config, listen);
    }
  } catch (err) {
    await ops?.close();
    await app?.close();
    await runtime.close();
    throw err;
  }
  return {
    runtime,
    app,
    url,
    ...(ops ? { opsUrl: ops.url } : {}),
    async close() {
      await ops?.close();
      await app?.close();
      await runtime.close();
    },
  };
}

function workerLogger(level: BridgeConfig['logLevel'], options: StartOptions): Logger {
  if (options.logger === false) return pino({ level: 'silent' });
  return pino({ level }, options.logStream ?? process.stdout);
}
