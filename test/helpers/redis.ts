import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteByPrefix } from '../../src/lib/redis-keys.js';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A Redis connection plus a key prefix unique to one test file (or test), and a cleanup that
 * deletes every key under that prefix. Tests never touch keys outside their prefix.
 */
export interface TestRedis {
  redis: Redis;
  prefix: string;
  url: string;
  cleanup(): Promise<void>;
}

export function createTestRedis(label: string): TestRedis {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
  const prefix = `sbtest-${label}-${randomUUID().slice(0, 8)}`;
  return {
    redis,
    prefix,
    url: TEST_REDIS_URL,
    async cleanup() {
      await deleteByPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

export { deleteByPrefix };

/** Deletes every key under `prefix` through a connection of its own (for afterAll hooks). */
export async function dropPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    await deleteByPrefix(redis, prefix);
  } finally {
    await redis.quit();
  }
}

/** The names of the commands `redis` sends while `run` runs (EVALSHA for a script, EVAL the first time). */
export async function commandsDuring(redis: Redis, run: () => Promise<unknown>): Promise<string[]> {
  const names: string[] = [];
  const sendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<typeof sendCommand>[0]) => {
    names.push(command.name);
    return sendCommand(command);
  }) as typeof redis.sendCommand;
  try {
    await run();
  } finally {
    redis.sendCommand = sendCommand;
  }
  return names;
}

/** How many script calls a list of command names holds. */
export const scriptCalls = (names: string[]): number => names.filter((name) => name === 'evalsha' || name === 'eval').length;
