import type { Redis } from 'ioredis';

/**
 * Deletes every key starting with `prefix` (SCAN + UNLINK, so Redis never blocks on a KEYS).
 * The demo uses it to start from empty data; tests and benchmarks to clean up after themselves.
 */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
