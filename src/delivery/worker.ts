import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { DeliveryConfig, TargetConfig } from '../config/schema.js';
import type { MappingPlan } from '../mapping/types.js';
import type { ResourceStore } from '../store/types.js';
import { createBackoffStrategy } from './backoff.js';
import { createTargetClient, type TargetClient } from './http-client.js';
import { silentLogger, type DeliveryLogger } from './logger.js';
import { createProcessor, type DeliveryResult } from './processor.js';
import { createDeliveryQueue } from './queues.js';
import { createResourceLock } from './resource-lock.js';
import { queueName, type DeliveryJobData } from './types.js';

/**
 * Runs a connection's delivery queue in this process: a BullMQ Worker with the connection's
 * concurrency and rate limit, the `bridge` backoff, and a processor wired to the target client.
 * It opens its own Redis connection (BullMQ workers need `maxRetriesPerRequest: null` and
 * block on reads) and closes everything it opened.
 * @see https://docs.bullmq.io/guide/workers/graceful-shutdown
 * @see https://docs.bullmq.io/guide/going-to-production#maxretriesperrequest
 */

/** Limiter ceiling used when the connection sets no rate limit. */
const UNLIMITED_JOBS = 1_000_000_000;

export interface DeliveryWorkerOptions {
  connectionId: string;
  /** Redis to connect to; the worker opens (and closes) its own connection. */
  redisUrl?: string;
  /** Or a connection to use instead (must have `maxRetriesPerRequest: null`); not closed here. */
  connection?: Redis;
  /** BullMQ key prefix (the same as the producers'). */
  prefix: string;
  /** Prefix of the per-resource delivery locks. Default `<prefix>:<connectionId>`. */
  lockPrefix?: string;
  delivery: DeliveryConfig;
  /** The target to call; or pass a ready `client` instead. */
  target?: TargetConfig;
  client?: TargetClient;
  store: ResourceStore;
  plan: MappingPlan;
  /** Enqueues follow-up jobs; by default through this worker's own queue producer. */
  enqueue?: (data: DeliveryJobData) => Promise<void>;
  logger?: DeliveryLogger;
  /** How long a job waits when its resource is locked by another delivery. */
  lockRetryMs?: number;
}

export interface DeliveryWorker {
  worker: Worker<DeliveryJobData, DeliveryResult>;
  /** Waits for running jobs, then closes the worker, its client and its connections. */
  close(): Promise<void>;
}

export async function startDeliveryWorker(options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const logger = options.logger ?? silentLogger;
  const ownsRedis = options.connection === undefined;
  const redis = options.connection ?? new Redis(options.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const client = options.client ?? createOwnedClient(options);
  const producer = createDeliveryQueue(options.connectionId, {
    connection: redis,
    prefix: options.prefix,
    delivery: options.delivery,
  });

  const processor = createProcessor({
    connectionId: options.connectionId,
    store: options.store,
    plan: options.plan,
    client,
    enqueue: options.enqueue ?? producer.enqueue,
    rateLimit: (delayMs) => producer.queue.rateLimit(delayMs),
    lock: createResourceLock(redis, { prefix: options.lockPrefix ?? `${options.prefix}:${options.connectionId}` }),
    logger,
    ...(options.lockRetryMs === undefined ? {} : { lockRetryMs: options.lockRetryMs }),
  });

  // BullMQ only enforces a queue-wide pause (`queue.rateLimit`, used on a 429) when the worker
  // has a limiter, so a practically unlimited one is set when the connection configures none.
  const limiter = options.delivery.rateLimit
    ? { max: options.delivery.rateLimit.max, duration: options.delivery.rateLimit.durationMs }
    : { max: UNLIMITED_JOBS, duration: 1_000 };
  const worker = new Worker<DeliveryJobData, DeliveryResult>(queueName(options.connectionId), processor, {
    connection: redis,
    prefix: options.prefix,
    concurrency: options.delivery.concurrency,
    limiter,
    settings: { backoffStrategy: createBackoffStrategy(options.delivery) },
  });
  worker.on('error', (error) => {
    logger.error({ connectionId: options.connectionId, err: error.message }, 'delivery worker error');
  });
  worker.on('failed', (job, error) => {
    if (job && (error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1))) {
      logger.error({ connectionId: options.connectionId, jobId: job.id, code: codeOf(error.message) }, 'delivery failed for good');
    }
  });
  await worker.waitUntilReady();

  return {
    worker,
    async close() {
      await worker.close();
      await producer.close();
      if (!options.client) await client.close();
      if (ownsRedis) await redis.quit();
    },
  };
}

function createOwnedClient(options: DeliveryWorkerOptions): TargetClient {
  if (!options.target) throw new TypeError('startDeliveryWorker needs a target or a client');
  return createTargetClient(options.target);
}

function codeOf(message: string): string | undefined {
  return /^(GW_[A-Z_]+)/.exec(message)?.[1];
}
