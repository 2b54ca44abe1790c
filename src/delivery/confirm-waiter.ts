import type { Redis } from 'ioredis';
import type { ResourceType } from '../scim/types.js';
import type { ConfirmOutcome, ResourceStore } from '../store/types.js';

/**
 * The writer's half of `delivery.confirm.mode: first-attempt`, for API processes: one Redis
 * subscriber per process hears the worker's "reported" notices (PUBLISH `<store prefix>:confirm`
 * from the settle script) and wakes the request waiting for that resource and revision. The
 * notice is only a wake-up call: the answer itself is taken from the store atomically
 * (`collectConfirmation`), and a lost notice just means the wait runs out and the store is asked
 * then, so the outcome is the same with or without pub/sub.
 * @see https://redis.io/docs/latest/develop/interact/pubsub/
 */

export interface ConfirmWaiter {
  /**
   * Call right after the write and before its job is queued (so no notice can be missed); the
   * returned function waits at most `waitMs` and gives the first attempt's outcome, or
   * undefined when there was none in time (then the change stays and delivery goes on).
   */
  expect(store: ResourceStore, channel: string, type: ResourceType, id: string, revision: number, waitMs: number): () => Promise<ConfirmOutcome | undefined>;
  close(): Promise<void>;
}

/** `subscriber` must be a connection of its own (it enters subscribe mode); it is closed here. */
export async function createConfirmWaiter(subscriber: Redis, channels: string[]): Promise<ConfirmWaiter> {
  const waiting = new Map<string, Set<() => void>>();
  subscriber.on('message', (channel: string, message: string) => {
    const wakers = waiting.get(`${channel}|${message}`);
    if (wakers) for (const wake of wakers) wake();
  });
  if (channels.length > 0) await subscriber.subscribe(...channels);

  return {
    expect(store, channel, type, id, revision, waitMs) {
      const key = `${channel}|${type}:${id}:${revision}`;
      let wake: () => void = () => undefined;
      const notified = new Promise<void>((resolve) => (wake = resolve));
      const wakers = waiting.get(key) ?? new Set();
      wakers.add(wake);
      waiting.set(key, wakers);
      return async () => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([notified, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
        } finally {
          clearTimeout(timer);
          wakers.delete(wake);
          if (wakers.size === 0) waiting.delete(key);
        }
        return store.collectConfirmation(type, id, revision);
      };
    },
    async close() {
      subscriber.disconnect();
    },
  };
}
