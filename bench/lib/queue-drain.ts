import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FastTarget } from './fast-target.js';
import { waitFor } from './wait.js';

/**
 * Runs a batch of jobs "enqueued at once": the queue is paused while they are added, and the
 * clock starts when it is resumed, so the time measured is processing, not enqueueing.
 * @see https://docs.bullmq.io/guide/queues/global-concurrency#pause
 */
export async function releaseBatch(queue: Queue, add: () => Promise<void>): Promise<number> {
  await queue.pause();
  await add();
  const startedAt = Date.now();
  await queue.resume();
  return startedAt;
}

/** True when nothing is waiting (paused included), delayed or active. */
export async function isDrained(queue: Queue): Promise<boolean> {
  const counts = await queue.getJobCounts('wait', 'delayed', 'prioritized', 'active', 'waiting-children');
  return Object.values(counts).every((n) => n === 0);
}

/** Waits until the queue is drained (`isDrained`); returns false after `timeoutMs`. */
export function waitForDrain(queue: Queue, timeoutMs: number): Promise<boolean> {
  return waitFor(() => isDrained(queue), timeoutMs);
}

/** When the most recently completed job finished (Date.now() clock), or NaN when none kept. */
export async function lastFinishedAt(queue: Queue): Promise<number> {
  const [newest] = await queue.getJobs(['completed'], 0, 0, false);
  return newest?.finishedOn ?? Number.NaN;
}

/**
 * Waits until a bridge has nothing left to deliver: its outbox empty, no job waiting, delayed or
 * active, and its target without a call for `quietMs` (a quiet target alone can be a job waiting
 * out a delay). False after `timeoutMs`.
 */
export function waitForDelivered(bridge: { target: FastTarget; queue: Queue; redis: Redis; outbox: string }, quietMs: number, timeoutMs: number): Promise<boolean> {
  return waitFor(
    async () =>
      Date.now() - (await bridge.target.stats()).lastCallAt >= quietMs && (await bridge.redis.exists(bridge.outbox)) === 0 && (await isDrained(bridge.queue)),
    timeoutMs,
  );
}
