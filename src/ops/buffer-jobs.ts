import type { Job, Queue } from 'bullmq';
import type { ResourceType } from '../scim/types.js';
import type { BufferedWrite } from '../proxy/write-buffer.js';
import { bufferJobTitle } from './job-title.js';
import type { Timeline, TimelineEvent } from './timeline.js';

/**
 * The jobs of a `mode: proxy` connection's write buffer (proxy/write-buffer.ts) as the admin API
 * and the CLI show them: what was written (method, resource, attribute names), never how (the
 * body, If-Match and content type stay in Redis), and whether a failed write has been overtaken
 * by a later write of the same resource that the upstream applied: replaying it then would undo
 * that write, so it is not retried.
 */

export interface BufferJobView {
  kind: 'buffered-write';
  id: string;
  connection: string;
  /** `PATCH User 2819c… (buffered)`, as on the dashboard. */
  title: string;
  state: string;
  resource: { type: ResourceType; id: string };
  method: BufferedWrite['method'];
  op: BufferedWrite['op'];
  /** Names only, as in the timeline. */
  attributes: string[];
  rewrites: string[];
  requestId?: string;
  /** When the bridge accepted the write (ISO). */
  acceptedAt: string;
  /** Replays tried so far (transient failures included: they do not use BullMQ attempts up). */
  attempts: number;
  finishedAt?: string;
  /** The latest transient failure (the buffer waits and tries this write again). */
  lastError?: { code: string; upstreamStatus?: number; at: string };
  /** Why the write failed for good, with the failed job's reason (the upstream's answer redacted). */
  failure?: { code: string; upstreamStatus?: number; at?: string; message: string };
  /**
   * A failed write the upstream has since been given a newer write of the same resource for
   * (replayed, or forwarded once the buffer was empty): not an open problem, and not retried.
   */
  superseded: boolean;
  supersededBy?: { at: string; op: string; outcome: string; jobId?: string };
}

type BufferJob = Job<BufferedWrite>;

export async function bufferJobView(connectionId: string, job: BufferJob, timeline: Timeline, state?: string): Promise<BufferJobView> {
  const write = job.data;
  const jobState = state ?? (await job.getState());
  const failure = jobState === 'failed' ? failureOf(job) : undefined;
  const later = jobState === 'failed' ? await laterWrite(job, timeline) : undefined;
  return {
    kind: 'buffered-write',
    id: job.id ?? '',
    connection: connectionId,
    title: bufferJobTitle(write),
    state: jobState,
    resource: { type: write.type, id: write.id },
    method: write.method,
    op: write.op,
    attributes: write.attributes ?? [],
    rewrites: write.rewrites ?? [],
    ...(write.requestId ? { requestId: write.requestId } : {}),
    acceptedAt: write.acceptedAt ?? new Date(job.timestamp).toISOString(),
    attempts: (write.tries ?? 0) + job.attemptsMade,
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
    ...(write.lastError ? { lastError: write.lastError } : {}),
    ...(failure ? { failure } : {}),
    superseded: later !== undefined,
    ...(later ? { supersededBy: later } : {}),
  };
}

/** The structured failure the replay stored, else the code that starts BullMQ's reason. */
function failureOf(job: BufferJob): BufferJobView['failure'] {
  const message = job.failedReason ?? '';
  const stored = job.data.failure;
  if (stored) return { ...stored, message };
  const code = /^(GW_[A-Z_]+)/.exec(message)?.[1] ?? 'GW_PROXY_REPLAY_REJECTED';
  return { code, message };
}

/**
 * The first write of the resource the upstream applied after `job` first failed, from its
 * timeline. `strict`: only when that failure is on record (the replay's own check, where a
 * guess could drop a write); otherwise the job's finish time stands in for it.
 */
export async function laterWrite(job: BufferJob, timeline: Timeline, strict = false): Promise<BufferJobView['supersededBy']> {
  const events = await timeline.read(job.data.type, job.data.id);
  const failed = events.find((e) => e.kind === 'proxy' && e.jobId === job.id && e.outcome === 'replay-failed');
  const recorded = failed ? Date.parse(failed.at) : job.data.failure ? Date.parse(job.data.failure.at) : Number.NaN;
  if (strict && Number.isNaN(recorded)) return undefined;
  const failedAt = Number.isNaN(recorded) ? (job.finishedOn ?? job.timestamp) : recorded;
  const later = events.find((event) => applied(event) && Date.parse(event.at) >= failedAt && (event.kind !== 'proxy' || event.jobId !== job.id));
  if (later?.kind !== 'proxy') return undefined;
  return { at: later.at, op: later.op, outcome: later.outcome, ...(later.jobId ? { jobId: later.jobId } : {}) };
}

/** A proxied write the upstream applied (or, replayed, will have applied). */
export function applied(event: TimelineEvent): boolean {
  if (event.kind !== 'proxy') return false;
  if (event.outcome === 'replayed') return true;
  return event.outcome === 'forwarded' && event.upstreamStatus !== undefined && event.upstreamStatus >= 200 && event.upstreamStatus < 300;
}

/** Why a failed buffered write must not be retried, or undefined when it may. */
export function retryRefusal(view: BufferJobView, job: BufferJob, maxAgeMs: number, now = Date.now()): string | undefined {
  if (view.supersededBy) {
    const by = view.supersededBy;
    return `a later write of ${view.resource.type} ${view.resource.id} (${by.op}, ${by.outcome} at ${by.at}) reached the upstream since; replaying this one would undo it. Discard it instead`;
  }
  if (now - job.timestamp > maxAgeMs) {
    return `it was accepted ${Math.round((now - job.timestamp) / 1000)} s ago, past proxy.buffer.maxAgeMs (${maxAgeMs} ms): a retry would expire again. Discard it instead`;
  }
  return undefined;
}

/** Puts a failed buffered write back in the buffer (behind any write still waiting). */
export async function retryBufferJob(job: BufferJob): Promise<void> {
  const { failure: _failure, ...rest } = job.data;
  await job.updateData(rest);
  await job.retry('failed');
}

/** Failed jobs of a buffer, oldest first (the order retries put them back in). */
export async function failedBufferJobs(queue: Queue, limit: number): Promise<BufferJob[]> {
  const jobs = (await queue.getJobs(['failed'], 0, limit - 1, true)) as BufferJob[];
  return jobs.sort((a, b) => Number(a.id) - Number(b.id));
}
