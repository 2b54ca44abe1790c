import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { BridgeConfig } from '../../src/config/schema.js';
import { storePrefix } from '../../src/runtime.js';
import { createStoreKeys } from '../../src/store/keys.js';

/**
 * The benchmarks' Redis: the same server the tests use (`REDIS_URL`), every key under a prefix
 * unique to one benchmark run, deleted afterwards. The server is shared with whatever else runs
 * on the machine, so INFO figures (memory, CPU) are indicative; the per-prefix key sums are not
 * disturbed by other clients.
 */

export const BENCH_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function benchPrefix(name: string): string {
  return `sbbench-${name}-${randomBytes(4).toString('hex')}`;
}

export function connectRedis(): Redis {
  return new Redis(BENCH_REDIS_URL, { maxRetriesPerRequest: null });
}

export { deleteByPrefix } from '../../src/lib/redis-keys.js';

/** The outbox of a connection's store: empty once every accepted write is queued. */
export function outboxKey(config: BridgeConfig, connectionId: string): string {
  return createStoreKeys(storePrefix(config, connectionId)).outbox;
}

/** `used_memory` from INFO: the whole server, so other clients' keys move it too. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** CPU seconds redis-server has used (user + sys), for every client of the server. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/**
 * Bytes of every key under `prefix` (MEMORY USAGE, exact for aggregates with SAMPLES 0), grouped
 * by the part of the key after the prefix that `group` returns.
 */
export async function memoryByPrefix(redis: Redis, prefix: string, group: (rest: string) => string): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const results = (await pipeline.exec()) ?? [];
    keys.forEach((key, i) => {
      const bytes = Number(results[i]?.[1] ?? 0);
      const name = group(key.slice(prefix.length));
      totals[name] = (totals[name] ?? 0) + bytes;
    });
  } while (cursor !== '0');
  return totals;
}
