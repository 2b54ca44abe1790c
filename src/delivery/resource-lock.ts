import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createBatcher } from '../lib/batcher.js';
import { prefixHasHashTag } from '../lib/redis-keys.js';
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

/** KEYS: leases; ARGV: their tokens, in the same order. Deletes each lease its token still holds. */
const RELEASE = `
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i] then released = released + redis.call('DEL', KEYS[i]) end
end
return released
`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** Most leases one release call deletes. */
const MAX_RELEASES_PER_CALL = 64;

type LockCommands = {
  bridgeLockReleaseMany(numberOfKeys: number, ...keysThenTokens: string[]): Promise<number>;
  bridgeLockExtend(key: string, token: string, ttlMs: number): Promise<number>;
};

export function createResourceLock(redis: Redis, options: ResourceLockOptions): ResourceLock {
  const ttlOf = typeof options.ttlMs === 'function' ? options.ttlMs : () => (options.ttlMs as number | undefined) ?? 60_000;
  const now = options.now ?? Date.now;
  // EVALSHA through defineCommand: the script body is sent once per connection, not per call.
  if (!('bridgeLockReleaseMany' in redis)) {
    redis.defineCommand('bridgeLockReleaseMany', { lua: RELEASE });
    redis.defineCommand('bridgeLockExtend', { numberOfKeys: 1, lua: EXTEND });
  }
  const commands = redis as unknown as LockCommands;
  const releaseMany = async (leases: Array<{ key: string; token: string }>) => {
    await commands.bridgeLockReleaseMany(leases.length, ...leases.map((l) => l.key), ...leases.map((l) => l.token));
  };
  // The releases of one event-loop turn (jobs whose last saves were answered together) go out as
  // one script call. On Redis Cluster one call may only touch one hash slot: the leases share it
  // when the prefix carries a hash tag (the runtime's store prefix does); without one, each
  // release is its own call.
  const releases = createBatcher(releaseMany, { maxItems: MAX_RELEASES_PER_CALL, enabled: prefixHasHashTag(options.prefix) });
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
        release: () => releases.add([{ key, token }]),
      };
    },
  };
}
