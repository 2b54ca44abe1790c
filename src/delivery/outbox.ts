import type { ResourceStore } from '../store/types.js';
import type { DeliveryJobData } from './types.js';
import type { DeliveryLogger } from './logger.js';

/**
 * Re-queues accepted writes whose delivery job was never queued because the process stopped
 * between the store write and the enqueue. Every write leaves an outbox entry in the same atomic
 * step (store scripts); the API clears it once the job is queued. Entries older than `graceMs`
 * are therefore orphans: queue them and clear them. Running this in several processes at once is
 * harmless, because jobs are deduplicated per resource and converge on the latest state.
 */

export interface OutboxSweeperOptions {
  connectionId: string;
  store: ResourceStore;
  enqueue(jobs: DeliveryJobData[]): Promise<void>;
  logger: DeliveryLogger;
  /** How old an entry must be before it counts as orphaned. @default 15000 */
  graceMs?: number;
  /** How often to look. @default 5000 */
  intervalMs?: number;
  batch?: number;
}

export interface OutboxSweeper {
  /** One pass; returns how many entries were re-queued. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export function startOutboxSweeper(options: OutboxSweeperOptions): OutboxSweeper {
  const { connectionId, store, logger } = options;
  const graceMs = options.graceMs ?? 15_000;
  const batch = options.batch ?? 500;
  let running: Promise<number> | undefined;

  async function sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const due = await store.outboxDue(graceMs, batch);
      if (due.length === 0) return total;
      await options.enqueue(due.map((e) => ({ connectionId, ...e })));
      await store.outboxAck(due);
      total += due.length;
      logger.warn({ connectionId, count: due.length }, 'outbox: re-queued deliveries left behind by an interrupted write');
      if (due.length < batch) return total;
    }
  }

  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .catch((err: unknown) => {
        logger.error({ connectionId, err }, 'outbox sweep failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
  }, options.intervalMs ?? 5_000);
  timer.unref();

  return {
    sweep,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
