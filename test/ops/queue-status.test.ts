import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readQueueStatus } from '../../src/ops/queue-status.js';
import { deleteByPrefix, TEST_REDIS_URL } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/** The queue state ops see, against a real BullMQ queue and worker with a limiter (as the bridge's). */

const prefix = `sbtest-queue-status-${randomBytes(4).toString('hex')}`;
let redis: Redis;
let queue: Queue;

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
  queue = new Queue('status', { connection: { url: TEST_REDIS_URL }, prefix });
});
afterAll(async () => {
  await queue.close();
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

describe('readQueueStatus', () => {
  it("is not rate limited after jobs ran under the worker's limiter, and is during a 429 pause", async () => {
    const worker = new Worker('status', async () => 'done', {
      connection: { url: TEST_REDIS_URL },
      prefix,
      limiter: { max: 1_000_000, duration: 60_000 },
    });
    try {
      await queue.add('job', {});
      await waitFor(async () => (await queue.getCompletedCount()) === 1, 'the job to complete');
      // The limiter's key now lives for its 60 s window: that is no pause.
      expect(await redis.pttl(`${prefix}:status:limiter`)).toBeGreaterThan(0);
      expect((await readQueueStatus(queue)).rateLimitedUntil).toBeUndefined();

      await queue.rateLimit(30_000);
      const paused = await readQueueStatus(queue, Date.parse('2026-01-01T00:00:00Z'));
      expect(paused.rateLimitedUntil).toBeDefined();
      expect(Date.parse(paused.rateLimitedUntil!)).toBeGreaterThan(Date.parse('2026-01-01T00:00:25Z'));
    } finally {
      await worker.close();
    }
  });
});
