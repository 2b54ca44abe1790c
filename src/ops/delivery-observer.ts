import type { Job } from 'bullmq';
import type { DeliveryLogger } from '../delivery/logger.js';
import type { DeliveryResult } from '../delivery/processor.js';
import type { DeliveryJobData } from '../delivery/types.js';
import { failureOf, type AttemptOutcome, type CallRecord, type StoredFailure } from './failure.js';
import type { LastOutcomes } from './last-outcome.js';
import type { DeliveryAttemptEvent, Timeline } from './timeline.js';

/**
 * What ops learn from each delivery attempt, recorded around the processor without changing
 * what it does: one timeline entry, one log line and the metrics per attempt; on failure, the
 * reason as data in the job (`data.failure`, shown by the dashboard and the admin API) and in
 * the connection's last-outcome hash. The processor reports its target calls through `onCall`.
 */

/** Job data as stored by the worker: what was queued, plus the latest failure. */
export interface ObservedJobData extends DeliveryJobData {
  failure?: StoredFailure;
}

export type DeliveryJob = Job<ObservedJobData, DeliveryResult>;

/** Metrics of delivery; implemented by ops/metrics.ts. */
export interface DeliveryMetricsSink {
  call(connectionId: string, record: CallRecord): void;
  attempt(connectionId: string, outcome: AttemptOutcome, durationMs: number, code?: string): void;
}

export interface DeliveryObserverOptions {
  connectionId: string;
  timeline: Timeline;
  last: LastOutcomes;
  logger: DeliveryLogger;
  metrics?: DeliveryMetricsSink;
  now?: () => number;
}

/** A BullMQ processor of delivery jobs. */
export type JobProcessor = (job: Job<DeliveryJobData, DeliveryResult>, token?: string) => Promise<DeliveryResult>;

export interface DeliveryObserver {
  /** Given to the processor: one target call of the job `jobId` finished. */
  onCall(jobId: string | undefined, record: CallRecord): void;
  /** The processor, observed. */
  wrap(processor: JobProcessor): JobProcessor;
}

export function createDeliveryObserver(options: DeliveryObserverOptions): DeliveryObserver {
  const { connectionId, timeline, last, logger, metrics } = options;
  const now = options.now ?? Date.now;
  const running = new Map<string, CallRecord[]>();
  // "Last success" is a time for ops (status, dashboard): written at most once a second per
  // process; a success inside that second is written when it ends, so the latest one always lands.
  let lastSuccessWritten = 0;
  let pendingSuccess: { jobId: string; at: number } | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  function writeSuccess(success: { jobId: string; at: number }): Promise<void> {
    lastSuccessWritten = now();
    return last.recordSuccess({ at: new Date(success.at).toISOString(), jobId: success.jobId });
  }
  function recordSuccess(jobId: string): Promise<void> | undefined {
    const success = { jobId, at: now() };
    if (success.at - lastSuccessWritten >= LAST_SUCCESS_EVERY_MS && !flushTimer) return writeSuccess(success);
    pendingSuccess = success;
    flushTimer ??= setTimeout(() => {
      flushTimer = undefined;
      const pending = pendingSuccess;
      pendingSuccess = undefined;
      if (pending !== undefined) {
        writeSuccess(pending).catch((err: unknown) => logger.warn({ connectionId, err: (err as Error).message }, 'could not record the last delivery success'));
      }
    }, LAST_SUCCESS_EVERY_MS);
    flushTimer.unref();
    return undefined;
  }

  /** Recording never changes a job's outcome: a failed write is logged, and the job goes on. */
  async function record(log: object, writes: Array<Promise<unknown> | undefined>): Promise<void> {
    const results = await Promise.allSettled(writes);
    for (const result of results) {
      if (result.status === 'rejected') logger.warn({ ...log, err: (result.reason as Error).message }, 'could not record the delivery attempt');
    }
  }

  return {
    onCall(jobId, call) {
      if (jobId !== undefined) running.get(jobId)?.push(call);
      metrics?.call(connectionId, call);
    },
    wrap(processor) {
      return async (bullJob, token) => {
        const job = bullJob as DeliveryJob;
        const jobId = job.id ?? '';
        const calls: CallRecord[] = [];
        running.set(jobId, calls);
        const started = now();
        const attempt = job.attemptsMade + 1;
        const { type, id, revision, requestId } = job.data;
        const log = { reqId: requestId, jobId, connectionId, type, resourceId: id, revision, attempt };
        const base = { kind: 'delivery' as const, at: new Date(started).toISOString(), jobId, attempt, revision, ...(requestId ? { requestId } : {}) };
        try {
          const result = await processor(job, token);
          const durationMs = now() - started;
          const event: DeliveryAttemptEvent = { ...base, outcome: 'delivered', result: result.outcome, durationMs, calls };
          const bookkeeping = record(log, [
            timeline.append(type, id, event),
            recordSuccess(jobId),
            // A job that failed before and now went through no longer carries an open failure.
            job.data.failure ? job.updateData(withoutFailure(job.data)) : undefined,
          ]);
          // History, not delivery: the job completes without waiting for it (record() never
          // throws), except to clear a stored failure before the job leaves the failed state.
          if (job.data.failure) await bookkeeping;
          metrics?.attempt(connectionId, 'delivered', durationMs);
          logger.info({ ...log, outcome: 'delivered', result: result.outcome, calls: calls.length, durationMs }, 'delivery attempt');
          return result;
        } catch (error) {
          const name = (error as Error | undefined)?.name;
          // The resource was busy: the job was put back without an attempt.
          if (name === 'DelayedError') throw error;
          const durationMs = now() - started;
          const failure = failureOf(error);
          const outcome: AttemptOutcome =
            name === 'RateLimitError' ? 'rateLimited' : name === 'UnrecoverableError' || attempt >= (job.opts.attempts ?? 1) ? 'failed' : 'retry';
          const event: DeliveryAttemptEvent = { ...base, outcome, durationMs, code: failure.code, calls };
          const writes: Array<Promise<unknown>> = [timeline.append(type, id, event)];
          if (outcome !== 'rateLimited') {
            const at = new Date().toISOString();
            const stored: StoredFailure = { ...failure, attempts: attempt, firstAttemptAt: job.data.failure?.firstAttemptAt ?? base.at, lastAttemptAt: base.at };
            writes.push(
              job.updateData({ ...job.data, failure: stored }),
              last.recordFailure({ at, jobId, code: failure.code, ...(failure.status === undefined ? {} : { status: failure.status }) }),
            );
          }
          await record(log, writes);
          metrics?.attempt(connectionId, outcome, durationMs, failure.code);
          const fields = { ...log, outcome, code: failure.code, status: failure.status, action: failure.action, method: failure.method, path: failure.path, calls: calls.length, durationMs };
          // A job that failed for good also gets worker.ts's "delivery failed for good" line.
          logger.info(fields, 'delivery attempt');
          throw error;
        } finally {
          running.delete(jobId);
        }
      };
    },
  };
}

const LAST_SUCCESS_EVERY_MS = 1_000;

function withoutFailure(data: ObservedJobData): DeliveryJobData {
  const { failure: _failure, ...rest } = data;
  return rest;
}
