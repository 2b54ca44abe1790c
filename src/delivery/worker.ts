import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedisClient } from '../lib/redis-connection.js';
import type { DeliveryConfig, TargetConfig } from '../config/schema.js';
import type { MappingPlan } from '../mapping/types.js';
import type { ResourceStore } from '../store/types.js';
import { createBackoffStrategy } from './backoff.js';
import { createConfirmReporter } from './confirm-report.js';
import { createConnectionGate } from './connection-gate.js';
import { createGatedClient } from './gated-client.js';
import { createTargetClient, type TargetClient } from './http-client.js';
import { silentLogger, type DeliveryLogger } from './logger.js';
import { createProcessor, type DeliveryResult } from './processor.js';
import { createDeliveryQueue } from './queues.js';
import { createResourceLock } from './resource-lock.js';
import { queueName, type DeliveryJobData } from './types.js';
import type { DeliveryObserver } from '../ops/delivery-observer.js';
import { attachFailure, failureOf } from '../ops/failure.js';

/**
 * Runs a connection's delivery queue in this process: a BullMQ Worker with the connection's
 * concurrency and rate limit, the `bridge` backoff, and a processor wired to the target client
 * through the connection's gate (shared pause and circuit breaker, `connection-gate.ts`). Around
 * the processor: jobs older than `maxAgeMs` fail for good, and in `first-attempt` mode each
 * attempt is reported to a waiting writer (`confirm-report.ts`).
 *
 * Stalled jobs: a killed worker's job keeps its lock for at most `lockDurationMs`; the other
 * workers look for expired locks every `stalledIntervalMs`, so another worker takes the job
 * within about `lockDurationMs + stalledIntervalMs`, and can deliver it once the dead worker's
 * resource lease has expired too (`target.timeoutMs + lockDurationMs` at most).
 *
 * It opens its own Redis connection (BullMQ workers need `maxRetriesPerRequest: null` and
 * block on reads) and closes everything it opened.
 * @see https://docs.bullmq.io/guide/workers/graceful-shutdown
 * @see https://docs.bullmq.io/guide/workers/stalled-jobs
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
  /**
   * Where the connection gate and the resource leases send their commands: best an
   * auto-pipelining client (the store's), so the commands of concurrent jobs share round trips.
   * Default: the worker's own connection. Not closed here.
   */
  commandConnection?: Redis;
  /**
   * The store sends on `commandConnection` too, and it auto-pipelines: a job's lock and store
   * commands then share round trips, in order (see ProcessorDeps.pipelined). Default false.
   */
  storeOnCommandConnection?: boolean;
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
  /** Records each attempt for ops (timeline, failure data, metrics, one log line). */
  observer?: DeliveryObserver;
}

export interface DeliveryWorker {
  worker: Worker<DeliveryJobData, DeliveryResult>;
  /**
   * Applies reloaded settings (config/reload.ts): a new target (a fresh client; calls in flight
   * finish on the old one), and the delivery options read per job and attempt, the concurrency
   * and the rate limit. Other delivery options keep their start values.
   */
  reconfigure(settings: { target?: TargetConfig; delivery?: DeliveryConfig }): void;
  /**
   * Stops taking jobs, lets running jobs finish for at most `graceMs` (default: as long as they
   * take), then hands the rest back to the queue (aborting their calls) and closes the worker,
   * its client and its connections.
   */
  close(graceMs?: number): Promise<void>;
}

/** After the grace period, how long aborted jobs get to release their resource leases. */
const UNWIND_MS = 2_000;

export async function startDeliveryWorker(options: DeliveryWorkerOptions): Promise<DeliveryWorker> {
  const logger = options.logger ?? silentLogger;
  const { connectionId } = options;
  // What a reload may change; everything below reads these, not `options`.
  let delivery = options.delivery;
  let target = options.target;
  const ownsRedis = options.connection === undefined;
  const redis = options.connection ?? createRedisClient(options.redisUrl ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const shutdown = new AbortController();
  let ownedClient = options.client ? undefined : createOwnedClient(target, shutdown.signal);
  // The gated client sends through whichever target client is current.
  const current: TargetClient = {
    send: (spec) => (options.client ?? ownedClient!).send(spec),
    close: async () => {},
  };
  const lockPrefix = options.lockPrefix ?? `${options.prefix}:${connectionId}`;
  const commands = options.commandConnection ?? redis;
  const gate = createConnectionGate(commands, {
    prefix: lockPrefix,
    breaker: delivery.breaker,
    probeTtlMs: 2 * (options.target?.timeoutMs ?? 10_000) + 1_000,
    syncMs: delivery.gateSyncMs,
  });
  const client = createGatedClient(current, gate, connectionId, logger);
  const producer = createDeliveryQueue(connectionId, {
    connection: redis,
    prefix: options.prefix,
    delivery: () => delivery,
  });
  const enqueue = options.enqueue ?? producer.enqueue;

  const processor = createProcessor({
    connectionId,
    store: options.store,
    plan: options.plan,
    client,
    enqueue,
    rateLimit: (delayMs) => producer.queue.rateLimit(delayMs),
    // The lease must outlive one call (it is extended before each); past that, a killed worker's
    // resources are free again after at most timeoutMs + lockDurationMs.
    lock: createResourceLock(commands, { prefix: lockPrefix, ttlMs: () => (target?.timeoutMs ?? 10_000) + delivery.lockDurationMs }),
    logger,
    ...(options.lockRetryMs === undefined ? {} : { lockRetryMs: options.lockRetryMs }),
    ...(options.observer ? { onCall: options.observer.onCall } : {}),
    pipelined: options.storeOnCommandConnection === true && options.commandConnection !== undefined,
  });
  const reported =
    delivery.confirm.mode === 'first-attempt'
      ? createConfirmReporter({ connectionId, store: options.store, logger })
      : undefined;

  /** Running jobs and their lock tokens, to hand them back on shutdown. */
  const running = new Map<string, { job: Job<DeliveryJobData, DeliveryResult>; token: string | undefined }>();
  async function processJob(job: Job<DeliveryJobData, DeliveryResult>, token?: string): Promise<DeliveryResult> {
    const age = Date.now() - job.timestamp;
    if (age > delivery.maxAgeMs) {
      const message = `GW_DELIVERY_EXPIRED the job is ${Math.round(age / 1000)} s old, past delivery.maxAgeMs (${delivery.maxAgeMs} ms); not tried again`;
      throw attachFailure(new UnrecoverableError(message), { code: 'GW_DELIVERY_EXPIRED', message });
    }
    const key = job.id ?? '';
    running.set(key, { job, token });
    try {
      return await (reported ? reported(job, () => processor(job, token)) : processor(job, token));
    } finally {
      running.delete(key);
    }
  }

  // BullMQ only enforces a queue-wide pause (`queue.rateLimit`, used on a 429) when the worker
  // has a limiter, so a practically unlimited one is set when the connection configures none.
  // The worker reads this object on every job fetch, so a reload changes it in place.
  const limiter = { max: UNLIMITED_JOBS, duration: 1_000 };
  const setLimiter = (rateLimit: DeliveryConfig['rateLimit']) => {
    limiter.max = rateLimit?.max ?? UNLIMITED_JOBS;
    limiter.duration = rateLimit?.durationMs ?? 1_000;
  };
  setLimiter(delivery.rateLimit);
  const worker = new Worker<DeliveryJobData, DeliveryResult>(queueName(options.connectionId), options.observer?.wrap(processJob) ?? processJob, {
    connection: redis,
    prefix: options.prefix,
    concurrency: delivery.concurrency,
    limiter,
    lockDuration: delivery.lockDurationMs,
    stalledInterval: delivery.stalledIntervalMs,
    maxStalledCount: delivery.maxStalledCount,
    settings: {
      backoffStrategy: createBackoffStrategy({
        get backoffMs() {
          return delivery.backoffMs;
        },
        get maxBackoffMs() {
          return delivery.maxBackoffMs;
        },
      }),
    },
  });
  worker.on('error', (error) => {
    logger.error({ connectionId: options.connectionId, err: error.message }, 'delivery worker error');
  });
  worker.on('failed', (job, error) => {
    if (job && (error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1))) {
      const { code, status, action, method, path } = failureOf(error);
      const { type, id, revision, requestId } = job.data;
      logger.error(
        { reqId: requestId, connectionId: options.connectionId, jobId: job.id, type, resourceId: id, revision, code, status, action, method, path },
        'delivery failed for good',
      );
    }
  });
  await worker.waitUntilReady();

  /** Resolves when no job runs any more, or after `ms`; true when none runs. */
  async function drained(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return running.size === 0;
  }

  return {
    worker,
    reconfigure(settings) {
      if (settings.delivery) {
        delivery = settings.delivery;
        if (worker.concurrency !== delivery.concurrency) worker.concurrency = delivery.concurrency;
        setLimiter(delivery.rateLimit);
      }
      if (settings.target && !options.client) {
        target = settings.target;
        const old = ownedClient;
        ownedClient = createOwnedClient(target, shutdown.signal);
        // Closing waits for the calls still running on the old client.
        void old?.close().catch(() => {});
      }
    },
    async close(graceMs) {
      if (graceMs === undefined) {
        await worker.close();
      } else {
        // Stop taking jobs, give the running ones their grace period, hand back what is left.
        await worker.pause(true);
        if (!(await drained(graceMs))) {
          const left = [...running.values()];
          logger.warn({ connectionId, jobs: left.length }, 'shutdown grace period over: handing running jobs back to the queue');
          await Promise.allSettled(left.map(({ job, token }) => job.moveToWait(token)));
          shutdown.abort();
          await drained(UNWIND_MS);
        }
        await worker.close(true);
      }
      await producer.close();
      if (ownedClient) await ownedClient.close();
      if (ownsRedis) await redis.quit();
    },
  };
}

function createOwnedClient(target: TargetConfig | undefined, signal: AbortSignal): TargetClient {
  if (!target) throw new TypeError('startDeliveryWorker needs a target or a client');
  return createTargetClient(target, { signal });
}
