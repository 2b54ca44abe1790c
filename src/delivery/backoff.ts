import type { DeliveryConfig } from '../config/schema.js';

/**
 * The `bridge` backoff: exponential from `backoffMs`, doubling per attempt, capped at
 * `maxBackoffMs`, with full jitter so that jobs failed by one outage do not all retry at once.
 * BullMQ's built-in exponential backoff has no cap, hence a custom strategy.
 * @see https://docs.bullmq.io/guide/retrying-failing-jobs#custom-back-off-strategies
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */

/** The job option's backoff type served by {@link createBackoffStrategy}. */
export const BRIDGE_BACKOFF = 'bridge';

export type BackoffConfig = Pick<DeliveryConfig, 'backoffMs' | 'maxBackoffMs'>;

/** Delay before retry number `attemptsMade` (1-based), or -1 for backoff types it does not serve. */
export function createBackoffStrategy(
  config: BackoffConfig,
  random: () => number = Math.random,
): (attemptsMade: number, type?: string) => number {
  return (attemptsMade, type) => {
    if (type !== BRIDGE_BACKOFF) return -1;
    const ceiling = Math.min(config.maxBackoffMs, config.backoffMs * 2 ** Math.max(0, attemptsMade - 1));
    return Math.max(1, Math.floor(random() * ceiling));
  };
}
