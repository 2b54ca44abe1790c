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
  /** Lease lifetime; bounds how long a crashed worker blocks a resource. Default 60 s. */
  ttlMs?: number;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export function createResourceLock(redis: Redis, options: ResourceLockOptions): ResourceLock {
  const ttlMs = options.ttlMs ?? 60_000;
  return {
    async acquire(type, id) {
      const key = `${options.prefix}:lock:${type}:${id}`;
      const token = randomUUID();
      const taken = await redis.set(key, token, 'PX', ttlMs, 'NX');
      if (taken !== 'OK') return null;
      return {
        async extend() {
          return (await redis.eval(EXTEND, 1, key, token, ttlMs)) === 1;
        },
        async release() {
          await redis.eval(RELEASE, 1, key, token);
        },
      };
    },
  };
}
