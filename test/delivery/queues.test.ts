import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import { deliverySchema } from '../../src/config/schema.js';
import { BRIDGE_BACKOFF, createBackoffStrategy } from '../../src/delivery/backoff.js';
import type { DeliveryLogger } from '../../src/delivery/logger.js';
import { createDeliveryQueue, deliveryJobName, deliveryJobOptions, type DeliveryQueue } from '../../src/delivery/queues.js';
import { createResourceLock } from '../../src/delivery/resource-lock.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { commandsDuring, createTestRedis, scriptCalls, type TestRedis } from '../helpers/redis.js';

const delivery = deliverySchema.parse({ attempts: 7, backoffMs: 100, maxBackoffMs: 1_000, concurrency: 2 });
const job = (id: string, revision: number, trigger?: string): DeliveryJobData => ({
  connectionId: 'q',
  type: 'User',
  id,
  revision,
  ...(trigger ? { trigger } : {}),
});

describe('deliveryJobOptions', () => {
  it('sets a deterministic job id, per-resource deduplication, attempts, bridge backoff and retention', () => {
    expect(deliveryJobName({ type: 'Group' })).toBe('group.sync');
    expect(deliveryJobOptions(job('u1', 3), delivery)).toEqual({
      jobId: 'User-u1-r3',
      deduplication: { id: 'User-u1', keepLastIfActive: true },
      attempts: 7,
      backoff: { type: 'bridge', delay: 100 },
      removeOnComplete: { count: 1000 },
      removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
    });
  });

  it('makes the job id unique per trigger, without ":"', () => {
    expect(deliveryJobOptions(job('g1', 3, 'linked-u:9'), delivery).jobId).toBe('User-g1-r3-linked-u-9');
  });
});

describe('createBackoffStrategy', () => {
  it('doubles from backoffMs per attempt, capped at maxBackoffMs, with full jitter', () => {
    const top = createBackoffStrategy(delivery, () => 0.999_999);
    expect([1, 2, 3, 4, 5, 12].map((attempt) => top(attempt, BRIDGE_BACKOFF))).toEqual([99, 199, 399, 799, 999, 999]);
    const bottom = createBackoffStrategy(delivery, () => 0);
    expect(bottom(3, BRIDGE_BACKOFF)).toBe(1);
  });

  it('declines other backoff types (BullMQ then fails the job instead of guessing)', () => {
    expect(createBackoffStrategy(delivery)(1, 'linear')).toBe(-1);
  });
});

describe('DeliveryLogger', () => {
  it("accepts Fastify's (pino) logger", () => {
    expectTypeOf<FastifyBaseLogger>().toExtend<DeliveryLogger>();
  });
});

describe('on Redis', () => {
  let redis: TestRedis;
  let queue: DeliveryQueue;

  beforeAll(() => {
    redis = createTestRedis('delivery-queues');
    queue = createDeliveryQueue('q', { connection: redis.redis, prefix: `${redis.prefix}:bull`, delivery });
  });

  afterAll(async () => {
    await queue.queue.obliterate({ force: true });
    await queue.close();
    await redis.cleanup();
  });

  it('collapses a burst for one resource into one waiting job (enqueue and enqueueMany)', async () => {
    for (let revision = 1; revision <= 5; revision += 1) await queue.enqueue(job('burst', revision));
    await queue.enqueueMany([job('burst', 6), job('burst', 7), job('other', 1)]);
    const waiting = await queue.queue.getWaiting();
    expect(waiting.map((j) => j.id).sort()).toEqual(['User-burst-r1', 'User-other-r1']);
    expect(waiting.find((j) => j.id === 'User-burst-r1')?.name).toBe('user.sync');
  });

  it('lets one delivery at a time hold a resource; only the owner releases or extends it', async () => {
    let clock = 1_000_000;
    const lock = createResourceLock(redis.redis, { prefix: redis.prefix, ttlMs: 5_000, now: () => clock });
    const lease = await lock.acquire('User', 'u1');
    expect(lease).not.toBeNull();
    expect(await lock.acquire('User', 'u1')).toBeNull();
    expect(await lock.acquire('Group', 'u1')).not.toBeNull();
    expect(await lease?.extend()).toBe(true);
    // Past half the lease, extend asks Redis again and notices a lease that is no longer ours.
    clock += 3_000;
    expect(await lease?.extend()).toBe(true);
    clock += 3_000;

    await redis.redis.set(`${redis.prefix}:lock:User:u1`, 'someone-else');
    expect(await lease?.extend()).toBe(false);
    await lease?.release();
    expect(await redis.redis.get(`${redis.prefix}:lock:User:u1`)).toBe('someone-else');

    await redis.redis.del(`${redis.prefix}:lock:User:u1`);
    const again = await lock.acquire('User', 'u1');
    await again?.release();
    expect(await lock.acquire('User', 'u1')).not.toBeNull();
  });

  it('releases the leases of one event-loop turn in one call when its prefix has a hash tag, each only if still its own', async () => {
    const prefix = `${redis.prefix}:{locks}`;
    const lock = createResourceLock(redis.redis, { prefix, ttlMs: 5_000 });
    const leases = await Promise.all(['a', 'b', 'c'].map((id) => lock.acquire('User', id)));
    await redis.redis.set(`${prefix}:lock:User:b`, 'someone-else');
    const calls = await commandsDuring(redis.redis, () => Promise.all(leases.map((lease) => lease?.release())));
    expect(scriptCalls(calls)).toBe(1);
    expect(await redis.redis.exists(`${prefix}:lock:User:a`, `${prefix}:lock:User:c`)).toBe(0);
    expect(await redis.redis.get(`${prefix}:lock:User:b`)).toBe('someone-else');
    expect(await lock.acquire('User', 'a')).not.toBeNull();
  });
});
