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

/**
 * Whether every key that starts with `prefix` lands in one Redis Cluster hash slot: the prefix
 * carries a hash tag (`{…}` with something in it), so one script call may touch many such keys.
 * @see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
 */
export function prefixHasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
}
