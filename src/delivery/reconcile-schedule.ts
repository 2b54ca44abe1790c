import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { DeliveryLogger } from './logger.js';
import type { ReconcileReport } from './reconcile.js';

/**
 * `reconcile.every` of a connection: a BullMQ job scheduler adds one reconcile job per interval
 * (whatever the number of worker processes: the scheduler is stored once in Redis), and one of
 * the workers runs it. Each run's counts are its job's return value and a log line.
 * @see https://docs.bullmq.io/guide/job-schedulers
 */

export interface ReconcileSchedule {
  close(): Promise<void>;
}

export interface ReconcileScheduleOptions {
  connectionId: string;
  redisUrl: string;
  /** BullMQ key prefix (the same as the delivery queues'). */
  prefix: string;
  everyMs: number;
  run(): Promise<ReconcileReport>;
  logger: DeliveryLogger;
}

export function reconcileQueueName(connectionId: string): string {
  return `reconcile-${connectionId}`;
}

export async function startReconcileSchedule(options: ReconcileScheduleOptions): Promise<ReconcileSchedule> {
  const { connectionId, logger } = options;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const name = reconcileQueueName(connectionId);
  const queue = new Queue(name, { connection: redis, prefix: options.prefix });
  queue.on('error', () => {});
  await queue.upsertJobScheduler(
    'reconcile',
    { every: options.everyMs },
    { name: 'reconcile', opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
  );
  const worker = new Worker(
    name,
    async () => {
      const report = await options.run();
      const counts = report.types.map((t) => ({
        type: t.type,
        target: t.target,
        bridge: t.bridge,
        drifted: t.drifted.length,
        missing: t.missing.length,
        orphans: t.orphans.length,
        redelivered: t.redelivered,
      }));
      logger.info({ connectionId, counts }, 'scheduled reconcile done');
      return counts;
    },
    { connection: redis, prefix: options.prefix, concurrency: 1 },
  );
  worker.on('error', () => {});
  worker.on('failed', (_job, error) => logger.warn({ connectionId, code: 'GW_RECONCILE_LIST', err: error.message }, 'scheduled reconcile failed'));
  return {
    async close() {
      await worker.close();
      await queue.close();
      await redis.quit();
    },
  };
}
