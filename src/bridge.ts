import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { BridgeConfig } from './config/schema.js';
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
}

export interface RunningBridge {
  runtime: Runtime;
  app?: FastifyInstance;
  /** Base URL the API listens on, e.g. http://127.0.0.1:8080. */
  url?: string;
  close(): Promise<void>;
}

export async function startBridge(config: BridgeConfig, options: StartOptions = {}): Promise<RunningBridge> {
  const api = options.api ?? true;
  const worker = options.worker ?? true;
  const runtime = await createRuntime(config, { redisUrl: options.redisUrl });
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  try {
    if (api) {
      app = await buildApp({ config, runtime, logger: options.logger, logStream: options.logStream });
      const listen = options.listen ?? config.listen;
      await app.listen({ host: listen.host, port: listen.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : listen.port;
      url = `http://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${port}`;
    }
    const log = app?.log ?? consoleLogger(config.logLevel);
    for (const warning of runtime.redisWarnings) log.warn({ code: 'GW_STORE_UNSAFE' }, warning);
    runtime.watchMappings(log);
    if (worker) await runtime.startWorkers(log);
  } catch (err) {
    await app?.close();
    await runtime.close();
    throw err;
  }
  return {
    runtime,
    app,
    url,
    async close() {
      await app?.close();
      await runtime.close();
    },
  };
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** A JSON-lines logger for worker-only processes (no Fastify, hence no pino instance). */
function consoleLogger(level: string) {
  const min = LEVELS.indexOf(level as (typeof LEVELS)[number]);
  const at = (name: (typeof LEVELS)[number]) => (fields: object, msg?: string) => {
    if (min === -1 || LEVELS.indexOf(name) < min) return;
    process.stdout.write(`${JSON.stringify({ level: name, time: Date.now(), ...fields, msg })}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
