/**
 * Gathers the items that callers hand in during one turn of the event loop and passes them to
 * `flush` together, so concurrent requests share one Redis round trip (one `addBulk`, one `ZREM`)
 * instead of one each. Every caller's promise settles with the flush that carried its items: a
 * failed flush rejects every caller in it, exactly as if each had made the call alone.
 *
 * A batch is flushed on `setImmediate` (after the I/O callbacks of the current turn, so the
 * requests parsed from one socket read join one batch), or at once when it reaches `maxItems`.
 * With `enabled: false` every `add` is flushed on its own, at once (for a caller that may batch
 * only sometimes, e.g. keys that share a Cluster hash slot only under some prefixes).
 */
export interface Batcher<T> {
  add(items: T[]): Promise<void>;
}

export function createBatcher<T>(flush: (items: T[]) => Promise<void>, options: { maxItems?: number; enabled?: boolean } = {}): Batcher<T> {
  const maxItems = options.maxItems ?? 500;
  if (options.enabled === false) return { add: (items) => (items.length === 0 ? Promise.resolve() : flush(items)) };
  let pending: { items: T[]; waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> } | undefined;

  function run(): void {
    const batch = pending;
    pending = undefined;
    if (!batch) return;
    flush(batch.items).then(
      () => batch.waiters.forEach((w) => w.resolve()),
      (error: unknown) => batch.waiters.forEach((w) => w.reject(error)),
    );
  }

  return {
    add(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        if (!pending) {
          pending = { items: [], waiters: [] };
          setImmediate(run);
        }
        pending.items.push(...items);
        pending.waiters.push({ resolve, reject });
        if (pending.items.length >= maxItems) run();
      });
    },
  };
}
