import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ResourceType } from '../scim/types.js';

/**
 * One delivery at a time per resource, across worker processes and dashboard replays: a Redis
 * lease taken with `SET NX PX` and released or extended only by its owner (compare-and-delete
 * in Lua). Deduplication already keeps one active job per resource in a queue; the lease also
 * covers a failed job retried by hand while a newer one runs.
 * @see https://redis.io/docs/latest/develop/use/patterns/distributed-locks/#correct-implementation-with-a-single-instance
 */

export interface ResourceLease {
  /** Pushes the expiry out again; false when the lease was lost (expired and taken). */
  extend(): Promise<boolean>;
  release(): Promise<void>;
}

export interface ResourceLock {
  /** The lease, or null when another delivery holds this resource. */
  acquire(type: ResourceType, id: string): Promise<ResourceLease | null>;
}

export interface ResourceLockOptions {
  /** Key prefix; keys are `<prefix>:lock:<type>:<id>`. */
  prefix: string;
  /** Lease lifetime; bounds how long a crashed worker blocks a resource. Default 60 s. A function is read per lease (reloaded config). */
  ttlMs?: number | (() => number);
  /** Clock, for tests. */
  now?: () => number;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

type LockCommands = {
  bridgeLockRelease(key: string, token: string): Promise<number>;
  bridgeLockExtend(key: string, token: string, ttlMs: number): Promise<number>;
};

export function createResourceLock(redis: Redis, options: ResourceLockOptions): ResourceLock {
  const ttlOf = typeof options.ttlMs === 'function' ? options.ttlMs : () => (options.ttlMs as number | undefined) ?? 60_000;
  const now = options.now ?? Date.now;
  // EVALSHA through defineCommand: the script body is sent once per connection, not per call.
  if (!('bridgeLockRelease' in redis)) {
    redis.defineCommand('bridgeLockRelease', { numberOfKeys: 1, lua: RELEASE });
    redis.defineCommand('bridgeLockExtend', { numberOfKeys: 1, lua: EXTEND });
  }
  const commands = redis as unknown as LockCommands;
  return {
    async acquire(type, id) {
      const key = `${options.prefix}:lock:${type}:${id}`;
      const token = randomUUID();
      const ttlMs = ttlOf();
      const taken = await redis.set(key, token, 'PX', ttlMs, 'NX');
      if (taken !== 'OK') return null;
      let expiresAt = now() + ttlMs;
      return {
        async extend() {
          // While more than half the lease is left, it is still ours: skip the round trip.
          if (expiresAt - now() > ttlMs / 2) return true;
          const extended = (await commands.bridgeLockExtend(key, token, ttlMs)) === 1;
          if (extended) expiresAt = now() + ttlMs;
          return extended;
        },
        async release() {
          await commands.bridgeLockRelease(key, token);
        },
      };
    },
  };
}
