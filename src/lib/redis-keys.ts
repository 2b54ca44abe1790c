import { scanEach, type RedisClient } from './redis-connection.js';

/**
 * Deletes every key starting with `prefix` (SCAN + UNLINK, so Redis never blocks on a KEYS).
 * The demo uses it to start from empty data; tests and benchmarks to clean up after themselves.
 */
export async function deleteByPrefix(redis: RedisClient, prefix: string): Promise<void> {
  await deleteMatching(redis, `${prefix}*`);
}

/**
 * Deletes every key matching a SCAN pattern, on every Cluster master. Keys are unlinked one by
 * one in a pipeline, because one SCAN page may span hash slots.
 */
export async function deleteMatching(redis: RedisClient, pattern: string): Promise<void> {
  await scanEach(redis, pattern, async (node, keys) => {
    await node.pipeline(keys.map((key) => ['unlink', key])).exec();
  });
}
