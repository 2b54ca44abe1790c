import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { FAILED_RETENTION, type DeliveryConfig } from '../config/schema.js';
import { BRIDGE_BACKOFF } from './backoff.js';
import { deliveryDedupId, deliveryJobId, queueName, type DeliveryJobData } from './types.js';

/**
 * The producer side of a connection's delivery queue. Jobs reference a resource and revision;
 * deduplication per resource keeps at most one active and one waiting job, so a burst of
 * changes collapses into one delivery of the latest state.
 * @see https://docs.bullmq.io/guide/jobs/deduplication
 * @see https://docs.bullmq.io/patterns/idempotent-jobs
 */

export interface DeliveryQueueOptions {
  /** An ioredis instance (shared) or connection options. */
  connection: ConnectionOptions;
  /** BullMQ key prefix. */
  prefix: string;
  /** The connection's delivery options, or a function giving them as they are now (reloaded config). */
  delivery: DeliveryConfig | (() => DeliveryConfig);
}

export interface DeliveryQueue {
  queue: Queue<DeliveryJobData>;
  enqueue(data: DeliveryJobData): Promise<void>;
  /** One round trip for many jobs (bulk imports, a group's members after a link). */
  enqueueMany(data: DeliveryJobData[]): Promise<void>;
  close(): Promise<void>;
}

/** Job name, e.g. `user.sync`: one name per resource type, shown in the dashboard. */
export function deliveryJobName(data: Pick<DeliveryJobData, 'type'>): string {
  return `${data.type.toLowerCase()}.sync`;
}

/** The job options of one delivery; exported so tests and the dashboard see the same. */
export function deliveryJobOptions(data: DeliveryJobData, delivery: DeliveryConfig): JobsOptions {
  const jobId = data.trigger ? `${deliveryJobId(data)}-${data.trigger.replace(/:/g, '-')}` : deliveryJobId(data);
  return {
    jobId,
    deduplication: { id: deliveryDedupId(data), keepLastIfActive: true },
    attempts: delivery.attempts,
    backoff: { type: BRIDGE_BACKOFF, delay: delivery.backoffMs },
    removeOnComplete: { count: 1000 },
    // Failed deliveries stay for ops to inspect and retry, within the retention rule.
    removeOnFail: {
      age: (delivery.failedRetention?.maxAgeHours ?? FAILED_RETENTION.maxAgeHours) * 3600,
      count: delivery.failedRetention?.maxCount ?? FAILED_RETENTION.maxCount,
    },
  };
}

/** Approximate length of the queue's BullMQ event stream. */
const EVENTS_KEPT = 1_000;

export function createDeliveryQueue(connectionId: string, options: DeliveryQueueOptions): DeliveryQueue {
  const queue = new Queue<DeliveryJobData>(queueName(connectionId), {
    connection: options.connection,
    prefix: options.prefix,
    // Nothing here reads BullMQ's event stream (the dashboard and ops read job states); its
    // default of about 10,000 events is ~3 MB of Redis per connection for no reader.
    streams: { events: { maxLen: EVENTS_KEPT } },
  });
  // Connection errors surface on the add() calls themselves (and as a 503 to the SCIM client);
  // without a listener BullMQ would print a stack on every failed reconnect.
  queue.on('error', () => {});
  const delivery = typeof options.delivery === 'function' ? options.delivery : () => options.delivery as DeliveryConfig;
  return {
    queue,
    async enqueue(data) {
      await queue.add(deliveryJobName(data), data, deliveryJobOptions(data, delivery()));
    },
    async enqueueMany(items) {
      if (items.length === 0) return;
      await queue.addBulk(
        items.map((data) => ({ name: deliveryJobName(data), data, opts: deliveryJobOptions(data, delivery()) })),
      );
    },
    async close() {
      await queue.close();
    },
  };
}
