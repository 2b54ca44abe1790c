import { availableParallelism } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { BridgeConfig } from './config/schema.js';
import { pino, type Logger } from 'pino';
import { startDeliveryThread, type DeliveryThread } from './delivery/thread.js';
import type { DeliveryMetricsSink } from './ops/delivery-observer.js';
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
  /**
   * With both roles: run the workers on a delivery thread of this process (delivery/thread.ts),
   * so API and delivery use two cores. `serve` sets it from `deliveryThread` in the config.
   */
  workerThread?: boolean;
  /**
   * The bridge of a delivery thread (delivery/thread-entry.ts): no ops listener (the main thread
   * serves /metrics and /readyz), and no second copy of the Redis warnings the main thread logged.
   */
  asDeliveryThread?: boolean;
  /** Where the workers' delivery metrics go (the delivery thread sends them to the main thread). */
  deliveryMetrics?: DeliveryMetricsSink;
}

export interface RunningBridge {
  runtime: Runtime;
  app?: FastifyInstance;
  /** Base URL the API listens on, e.g. http://127.0.0.1:8080. */
  url?: string;
  /** Base URL of the ops listener (`metrics.listen`), when configured. */
  opsUrl?: string;
  /** The delivery thread running the workers, when `workerThread` started one. */
  deliveryThread?: DeliveryThread;
  /** Settles with the reason if the delivery thread stops on its own; never without one. */
  failed: Promise<Error>;
  close(): Promise<void>;
}

export async function startBridge(config: BridgeConfig, options: StartOptions = {}): Promise<RunningBridge> {
  const api = options.api ?? true;
  const worker = options.worker ?? true;
  const threaded = api && worker && options.workerThread === true;
  const runtime = await createRuntime(config, { redisUrl: options.redisUrl, ...(options.deliveryMetrics ? { deliveryMetrics: options.deliveryMetrics } : {}) });
  let app: FastifyInstance | undefined;
  let url: string | undefined;
  let ops: OpsListener | undefined;
  let thread: DeliveryThread | undefined;
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
    if (!options.asDeliveryThread) for (const warning of runtime.redisWarnings) log.warn({ code: 'GW_STORE_UNSAFE' }, warning);
    runtime.watchMappings(log);
    runtime.watchConfig(log);
    if (threaded) {
      const logTo = options.logger === false ? 'silent' : options.logStream === process.stderr ? 'stderr' : 'stdout';
      thread = await startDeliveryThread({ config, log: logTo, ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}) }, runtime.metrics.delivery);
      runtime.useDeliveryThread(thread);
    } else if (worker) {
      await runtime.startWorkers(log);
    }
    if (config.metrics.listen && !options.asDeliveryThread) {
      const listen = options.opsListen ?? config.metrics.listen;
      ops = await startOpsListener(runtime, config, listen);
    }
  } catch (err) {
    await ops?.close();
    await app?.close();
    await thread?.close(config.shutdown.graceMs);
    await runtime.close();
    throw err;
  }
  return {
    runtime,
    app,
    url,
    ...(ops ? { opsUrl: ops.url } : {}),
    ...(thread ? { deliveryThread: thread } : {}),
    failed: thread?.failed ?? new Promise<Error>(() => {}),
    async close() {
      await ops?.close();
      // The API stops taking changes first; the workers then deliver what they hold.
      await app?.close();
      await thread?.close(config.shutdown.graceMs);
      await runtime.close();
    },
  };
}

/** Whether `deliveryThread` asks for a delivery thread on this machine. */
export function wantsDeliveryThread(config: BridgeConfig): boolean {
  return config.deliveryThread === 'on' || (config.deliveryThread === 'auto' && availableParallelism() > 1);
}

function workerLogger(level: BridgeConfig['logLevel'], options: StartOptions): Logger {
  if (options.logger === false) return pino({ level: 'silent' });
  return pino({ level }, options.logStream ?? process.stdout);
}
