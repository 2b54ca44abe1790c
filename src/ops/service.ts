import type { Job, Queue } from 'bullmq';
import { deliveryJobTitle } from './job-title.js';
import { resourceName } from './resource-name.js';
import type { ResourceType } from '../scim/types.js';
import type { IndexedAttribute, ResourceStore } from '../store/types.js';
import type { ObservedJobData } from './delivery-observer.js';
import type { StoredFailure } from './failure.js';
import type { LastFailure, LastOutcomes, LastSuccess } from './last-outcome.js';
import { readQueueStatus, type QueueStatus } from './queue-status.js';
import type { Timeline, TimelineEvent } from './timeline.js';
import type { GateStatus } from '../delivery/connection-gate.js';
import type { BufferedWrite } from '../proxy/write-buffer.js';
import { applied, bufferJobView, failedBufferJobs, retryBufferJob, retryRefusal, type BufferJobView } from './buffer-jobs.js';

export type { BufferJobView } from './buffer-jobs.js';

/**
 * The ops use cases, framework-free: the admin API (HTTP) and the CLI (straight on Redis) are two
 * thin front ends of this. Reads are bounded (pages of jobs, capped timelines); every lookup is
 * by key or index, never a scan of all resources.
 */

export interface OpsConnection {
  id: string;
  displayName: string;
  /** Origin of the target (no path, no credentials). */
  target: string;
  queue: Queue;
  store: ResourceStore;
  timeline: Timeline;
  last: LastOutcomes;
  /** The connection gate's pause and circuit breaker (see delivery/connection-gate.ts). */
  gate?: () => Promise<GateStatus>;
}

/** A `mode: proxy` connection: the upstream holds its resources, the bridge only their timelines. */
export interface OpsProxyConnection {
  id: string;
  displayName: string;
  target: string;
  timeline: Timeline;
  /** Its write buffer's queue, when `proxy.buffer.writes` is on. */
  queue?: Queue;
  /** `proxy.buffer.maxAgeMs`: a failed write older than this is not retried (it would expire again). */
  bufferMaxAgeMs?: number;
}

/** A job of either kind: a delivery job, or a buffered write of a `mode: proxy` connection. */
export type AnyJobView = JobView | BufferJobView;

export interface ConnectionStatus {
  id: string;
  /** `proxy`: a `mode: proxy` connection, whose queue is its write buffer. */
  mode?: 'proxy';
  displayName: string;
  target: string;
  queue: QueueStatus;
  /** Accepted writes whose delivery job is not queued yet (the outbox; mapped connections only). */
  outbox?: number;
  /** Whether target calls are held back by a 429 or an open circuit breaker. */
  gate?: GateStatus;
  lastSuccess?: LastSuccess;
  lastFailure?: LastFailure;
}

export type JobListState = 'failed' | 'waiting' | 'active' | 'delayed' | 'completed';

export interface JobView {
  id: string;
  connection: string;
  /** `<Type> <name> · r<revision>`, as on the dashboard. */
  title: string;
  state: string;
  resource: { type: ResourceType; id: string; name?: string };
  revision: number;
  requestId?: string;
  /** Attempts made so far, and allowed. */
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  finishedAt?: string;
  failure?: StoredFailure;
  /**
   * True when the resource has since been delivered at this revision or a newer one (or is gone):
   * the failure is no longer an open problem, and a retry would find nothing to do.
   */
  superseded: boolean;
  deliveredRevision?: number;
}

export interface Trace {
  connection: string;
  /** `proxy` for a `mode: proxy` connection: the resource lives upstream, `exists` is what the last write said. */
  mode?: 'proxy';
  resource: { type: ResourceType; id: string; name?: string; exists: boolean; revision?: number };
  delivery: { targetId?: string; deliveredRevision?: number; createPending?: boolean };
  events: TimelineEvent[];
  /** The jobs the timeline mentions (newest first), with their current state. */
  jobs: AnyJobView[];
}

export class OpsNotFoundError extends Error {}

type BufferedProxy = OpsProxyConnection & { queue: Queue };

/** Index lookups tried, in order, for `trace` (besides the SCIM id). */
const TRACE_LOOKUPS: Array<[ResourceType, IndexedAttribute]> = [
  ['User', 'userName'],
  ['User', 'externalId'],
  ['Group', 'displayName'],
  ['Group', 'externalId'],
];

const MAX_PAGE = 200;
const MAX_TRACE_JOBS = 10;

export type Ops = ReturnType<typeof createOps>;

export function createOps(connections: OpsConnection[], proxies: OpsProxyConnection[] = []) {
  const byId = new Map(connections.map((c) => [c.id, c]));
  const proxyById = new Map(proxies.map((p) => [p.id, p]));

  function connection(id: string): OpsConnection {
    const found = byId.get(id);
    if (!found) {
      throw new OpsNotFoundError(
        proxyById.has(id)
          ? `connection "${id}" is a mode: proxy connection without write buffering (proxy.buffer.writes): it has no jobs; trace its resources by SCIM id`
          : `no connection "${id}"`,
      );
    }
    return found;
  }

  /** The connection as a delivery connection or as a buffering proxy one (anything else: not found). */
  function jobSource(id: string): { delivery: OpsConnection } | { buffer: BufferedProxy } {
    const proxied = buffered.find((p) => p.id === id);
    return proxied ? { buffer: proxied } : { delivery: connection(id) };
  }

  async function mustGetBufferJob(p: BufferedProxy, jobId: string): Promise<Job<BufferedWrite>> {
    const job = (await p.queue.getJob(jobId)) as Job<BufferedWrite> | undefined;
    if (!job) throw new OpsNotFoundError(`no buffered write "${jobId}" in connection "${p.id}"`);
    return job;
  }

  async function retryBuffered(p: BufferedProxy, jobId: string): Promise<BufferJobView> {
    const job = await mustGetBufferJob(p, jobId);
    const state = await job.getState();
    if (state !== 'failed') throw new OpsConflictError(`buffered write "${jobId}" is ${state}, only failed ones can be retried`);
    const refusal = retryRefusal(await bufferJobView(p.id, job, p.timeline, state), job, p.bufferMaxAgeMs ?? Number.POSITIVE_INFINITY);
    if (refusal) throw new OpsConflictError(`buffered write "${jobId}" is not retried: ${refusal}`);
    await retryBufferJob(job);
    return bufferJobView(p.id, job, p.timeline, 'waiting');
  }

  /** Every failed write that may be retried, oldest first; the others are counted as skipped. */
  async function retryAllBuffered(p: BufferedProxy): Promise<{ retried: number; skipped: number }> {
    let retried = 0;
    let skipped = 0;
    for (const job of await failedBufferJobs(p.queue, 1000)) {
      const refusal = retryRefusal(await bufferJobView(p.id, job, p.timeline, 'failed'), job, p.bufferMaxAgeMs ?? Number.POSITIVE_INFINITY);
      if (refusal) {
        skipped += 1;
        continue;
      }
      await retryBufferJob(job);
      retried += 1;
    }
    return { retried, skipped };
  }

  /** A proxied resource's story, by the upstream's SCIM id (the bridge keeps no other index). */
  async function traceProxied(p: OpsProxyConnection, query: string): Promise<Trace> {
    for (const type of ['User', 'Group'] as const) {
      const events = await p.timeline.read(type, query);
      if (events.length === 0) continue;
      const last = events.filter(applied).at(-1);
      const deleted = last?.kind === 'proxy' && last.op === 'delete';
      // The buffered writes the timeline mentions, newest first, while BullMQ still keeps them.
      const jobIds = [...new Set(events.flatMap((e) => (e.kind === 'proxy' && e.jobId ? [e.jobId] : [])).reverse())].slice(0, MAX_TRACE_JOBS);
      const jobs = p.queue
        ? (await Promise.all(jobIds.map((id) => p.queue!.getJob(id) as Promise<Job<BufferedWrite> | undefined>))).filter((job): job is Job<BufferedWrite> => job !== undefined)
        : [];
      return {
        connection: p.id,
        mode: 'proxy',
        resource: { type, id: query, exists: !deleted },
        delivery: {},
        events,
        jobs: await Promise.all(jobs.map((job) => bufferJobView(p.id, job, p.timeline))),
      };
    }
    throw new OpsNotFoundError(`no proxied write of a user or group with SCIM id "${query}" in connection "${p.id}" (within the timeline's age limit)`);
  }

  async function proxyStatus(p: BufferedProxy): Promise<ConnectionStatus> {
    return { id: p.id, mode: 'proxy', displayName: p.displayName, target: p.target, queue: await readQueueStatus(p.queue) };
  }
  const buffered = proxies.filter((p): p is BufferedProxy => p.queue !== undefined);

  async function status(c: OpsConnection): Promise<ConnectionStatus> {
    const [queue, outbox, last, gate] = await Promise.all([readQueueStatus(c.queue), c.store.outboxSize(), c.last.read(), c.gate?.()]);
    return { id: c.id, displayName: c.displayName, target: c.target, queue, outbox, ...(gate ? { gate } : {}), ...last };
  }

  async function view(c: OpsConnection, job: Job<ObservedJobData>, state?: string): Promise<JobView> {
    const { type, id, revision, name, requestId, failure } = job.data;
    const [jobState, [current, delivered]] = await Promise.all([state ?? job.getState(), c.store.getWithDeliveryState(type, id)]);
    const superseded = !current || (delivered !== null && delivered.revision >= revision);
    return {
      id: job.id ?? '',
      connection: c.id,
      title: deliveryJobTitle(job.data),
      state: jobState,
      resource: { type, id, ...(name ? { name } : {}) },
      revision,
      ...(requestId ? { requestId } : {}),
      attempts: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      createdAt: new Date(job.timestamp).toISOString(),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {}),
      ...(failure ? { failure } : {}),
      superseded,
      ...(delivered && delivered.revision > 0 ? { deliveredRevision: delivered.revision } : {}),
    };
  }

  async function mustGetJob(c: OpsConnection, jobId: string): Promise<Job<ObservedJobData>> {
    const job = (await c.queue.getJob(jobId)) as Job<ObservedJobData> | undefined;
    if (!job) throw new OpsNotFoundError(`no job "${jobId}" in connection "${c.id}"`);
    return job;
  }

  async function findResource(c: OpsConnection, query: string): Promise<{ type: ResourceType; id: string } | undefined> {
    for (const type of ['User', 'Group'] as const) {
      if (await c.store.getForDelivery(type, query)) return { type, id: query };
    }
    for (const [type, attribute] of TRACE_LOOKUPS) {
      const [id] = await c.store.findBy(type, attribute, query);
      if (id) return { type, id };
    }
    // Deleted and purged: only the timeline remembers it, under its SCIM id.
    for (const type of ['User', 'Group'] as const) {
      if ((await c.timeline.read(type, query)).length > 0) return { type, id: query };
    }
    return undefined;
  }

  return {
    connectionIds: () => connections.map((c) => c.id),

    /** Bridged connections, then `mode: proxy` connections that buffer writes. */
    async connections(): Promise<ConnectionStatus[]> {
      return Promise.all([...connections.map(status), ...buffered.map(proxyStatus)]);
    },

    connection: (id: string) => {
      const proxied = buffered.find((p) => p.id === id);
      return proxied ? proxyStatus(proxied) : status(connection(id));
    },

    /** A page of a connection's jobs: delivery jobs, or a buffering proxy connection's buffered writes. */
    async jobs(connectionId: string, options: { state?: JobListState; start?: number; count?: number } = {}): Promise<{ total: number; start: number; jobs: AnyJobView[] }> {
      const source = jobSource(connectionId);
      const queue = 'buffer' in source ? source.buffer.queue : source.delivery.queue;
      const state = options.state ?? 'failed';
      const start = Math.max(0, options.start ?? 0);
      const count = Math.min(MAX_PAGE, Math.max(1, options.count ?? 50));
      const [total, jobs] = await Promise.all([queue.getJobCountByTypes(state), queue.getJobs([state], start, start + count - 1, false)]);
      if ('buffer' in source) {
        const p = source.buffer;
        return { total, start, jobs: await Promise.all((jobs as Array<Job<BufferedWrite>>).map((job) => bufferJobView(p.id, job, p.timeline, state))) };
      }
      return { total, start, jobs: await Promise.all((jobs as Array<Job<ObservedJobData>>).map((job) => view(source.delivery, job, state))) };
    },

    async job(connectionId: string, jobId: string): Promise<AnyJobView> {
      const source = jobSource(connectionId);
      if ('buffer' in source) return bufferJobView(source.buffer.id, await mustGetBufferJob(source.buffer, jobId), source.buffer.timeline);
      return view(source.delivery, await mustGetJob(source.delivery, jobId));
    },

    /**
     * Retries a failed job; the worker then delivers the resource's latest state. A failed
     * buffered write goes back in the buffer, unless a later write of the resource reached the
     * upstream since or it is past maxAgeMs (a conflict: discard it instead).
     */
    async retry(connectionId: string, jobId: string): Promise<AnyJobView> {
      const source = jobSource(connectionId);
      if ('buffer' in source) return retryBuffered(source.buffer, jobId);
      const c = source.delivery;
      const job = await mustGetJob(c, jobId);
      const state = await job.getState();
      if (state !== 'failed') throw new OpsConflictError(`job "${jobId}" is ${state}, only failed jobs can be retried`);
      await job.retry('failed');
      return view(c, job, 'waiting');
    },

    /** Retries every failed job of a connection; returns how many there were (and, for a buffer, how many were left alone). */
    async retryAll(connectionId: string): Promise<{ retried: number; skipped?: number }> {
      const source = jobSource(connectionId);
      if ('buffer' in source) return retryAllBuffered(source.buffer);
      const c = source.delivery;
      const retried = await c.queue.getJobCountByTypes('failed');
      if (retried > 0) await c.queue.retryJobs({ state: 'failed', count: 1000 });
      return { retried };
    },

    /** Removes a job that is not running (a failed job ops decided not to deliver, or a buffered write not to send). */
    async discard(connectionId: string, jobId: string): Promise<void> {
      const source = jobSource(connectionId);
      const job = 'buffer' in source ? await mustGetBufferJob(source.buffer, jobId) : await mustGetJob(source.delivery, jobId);
      const state = await job.getState();
      if (state === 'active') throw new OpsConflictError(`job "${jobId}" is running; discard it once it has finished`);
      await job.remove();
    },

    /** A resource's story by SCIM id, userName, externalId or displayName. */
    async trace(connectionId: string, query: string): Promise<Trace> {
      const proxied = proxyById.get(connectionId);
      if (proxied) return traceProxied(proxied, query);
      const c = connection(connectionId);
      const found = await findResource(c, query);
      if (!found) throw new OpsNotFoundError(`no user or group "${query}" in connection "${connectionId}"`);
      const [[current, delivered], events] = await Promise.all([c.store.getWithDeliveryState(found.type, found.id), c.timeline.read(found.type, found.id)]);
      const name = current ? resourceName(current.doc) : undefined;
      const jobIds = [...new Set(events.flatMap((e) => (e.kind === 'delivery' ? [e.jobId] : [])).reverse())].slice(0, MAX_TRACE_JOBS);
      const jobs = (await Promise.all(jobIds.map((id) => c.queue.getJob(id) as Promise<Job<ObservedJobData> | undefined>))).filter(
        (job): job is Job<ObservedJobData> => job !== undefined,
      );
      return {
        connection: c.id,
        resource: {
          ...found,
          ...(name ? { name } : {}),
          exists: current !== null && !current.deleted,
          ...(current ? { revision: current.revision } : {}),
        },
        delivery: {
          ...(delivered?.targetId ? { targetId: delivered.targetId } : {}),
          ...(delivered && delivered.revision > 0 ? { deliveredRevision: delivered.revision } : {}),
          ...(delivered?.createPending ? { createPending: true } : {}),
        },
        events,
        jobs: await Promise.all(jobs.map((job) => view(c, job))),
      };
    },
  };
}

export class OpsConflictError extends Error {}

