import { setTimeout as delay } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { readQueueStatus } from './queue-status.js';

/**
 * What /readyz reports: Redis, and per connection its mapping, queue and worker (for a `mode:
 * proxy` connection that buffers writes: its write buffer and the buffer's replay worker). Ready means
 * Redis answers and every worker this process should run is running; a paused queue or a target
 * that rate-limits is reported but does not make the process unready (restarting would not
 * help). Each check has a deadline, so a hanging Redis makes the probe fail, not hang.
 */

export interface HealthSources {
  ping(): Promise<unknown>;
  connections: Array<{
    id: string;
    /** `proxy`: the queue is the connection's write buffer, the worker its replay; no mapping. */
    mode?: 'proxy';
    mapping?: { name: string };
    queue: Queue;
    /** True/false when this process runs the connection's worker, undefined when it does not. */
    workerRunning(): boolean | undefined;
  }>;
}

type Check = { status: 'ok' } | { status: 'error'; detail: string };

export interface ConnectionHealth {
  id: string;
  mode?: 'proxy';
  mapping?: { status: 'ok'; name: string };
  queue: Check & { paused?: boolean; rateLimitedUntil?: string; waiting?: number; failed?: number };
  worker: { status: 'ok' | 'stopped' | 'not-in-this-process' };
}

export interface Health {
  status: 'ok' | 'unavailable';
  redis: Check & { rttMs?: number };
  connections: ConnectionHealth[];
}

export async function readHealth(sources: HealthSources, timeoutMs = 2_000): Promise<Health> {
  const started = performance.now();
  const redis = await withDeadline(sources.ping(), timeoutMs).then(
    (): Health['redis'] => ({ status: 'ok', rttMs: Math.round((performance.now() - started) * 10) / 10 }),
    (err: unknown): Health['redis'] => ({ status: 'error', detail: describe(err) }),
  );
  const connections = await Promise.all(
    sources.connections.map(async (c): Promise<ConnectionHealth> => {
      const running = c.workerRunning();
      const queue: ConnectionHealth['queue'] =
        redis.status === 'ok'
          ? await withDeadline(readQueueStatus(c.queue), timeoutMs).then(
              (s): ConnectionHealth['queue'] => ({
                status: 'ok',
                paused: s.paused,
                ...(s.rateLimitedUntil ? { rateLimitedUntil: s.rateLimitedUntil } : {}),
                waiting: s.counts.waiting,
                failed: s.counts.failed,
              }),
              (err: unknown): ConnectionHealth['queue'] => ({ status: 'error', detail: describe(err) }),
            )
          : { status: 'error', detail: 'Redis unavailable' };
      return {
        id: c.id,
        ...(c.mode ? { mode: c.mode } : {}),
        ...(c.mapping ? { mapping: { status: 'ok' as const, name: c.mapping.name } } : {}),
        queue,
        worker: { status: running === undefined ? 'not-in-this-process' : running ? 'ok' : 'stopped' },
      };
    }),
  );
  const ready = redis.status === 'ok' && connections.every((c) => c.queue.status === 'ok' && c.worker.status !== 'stopped');
  return { status: ready ? 'ok' : 'unavailable', redis, connections };
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, delay(ms, undefined, { ref: false }).then(() => Promise.reject(new Error(`no answer within ${ms} ms`)))]);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : 'failed';
}
