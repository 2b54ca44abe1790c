import type { Queue } from 'bullmq';

/**
 * The state of one connection's delivery queue as ops need it: job counts by state, how long the
 * oldest waiting job has waited, and whether the queue is paused or held back by a target's 429.
 * Shared by the admin API, `scim-bridge status`, /readyz and the metrics, so they always agree.
 */

export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueStatus {
  counts: Record<JobState, number>;
  /** Age of the oldest job waiting to run, in ms; absent when none waits. */
  oldestWaitingAgeMs?: number;
  paused: boolean;
  /** Set while a target's 429 holds the queue back (ISO time the pause ends). */
  rateLimitedUntil?: string;
}

export async function readQueueStatus(queue: Queue, now = Date.now()): Promise<QueueStatus> {
  const [counts, oldest, paused, rateLimitTtl] = await Promise.all([
    queue.getJobCounts(...JOB_STATES),
    // Ascending order puts the job that has waited longest first.
    queue.getJobs(['wait'], 0, 0, true),
    queue.isPaused(),
    // A 429 pause (`queue.rateLimit`) sets the limiter's counter to MAX_SAFE_INTEGER; without this
    // bound BullMQ reports the limiter key's TTL, which every processed job sets for its window.
    queue.getRateLimitTtl(Number.MAX_SAFE_INTEGER),
  ]);
  const waitingSince = oldest[0]?.timestamp;
  return {
    counts: Object.fromEntries(JOB_STATES.map((state) => [state, counts[state] ?? 0])) as Record<JobState, number>,
    ...(waitingSince === undefined ? {} : { oldestWaitingAgeMs: Math.max(0, now - waitingSince) }),
    paused,
    ...(rateLimitTtl > 0 ? { rateLimitedUntil: new Date(now + rateLimitTtl).toISOString() } : {}),
  };
}
