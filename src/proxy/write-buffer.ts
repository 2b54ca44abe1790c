import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { ProxyBufferConfig } from '../config/schema.js';
import type { ResourceType } from '../scim/types.js';
import type { ProxyOp } from './proxy-timeline.js';

/**
 * The producer side of a `mode: proxy` connection's write buffer: while the upstream is down, a
 * PUT, PATCH or DELETE of a known resource becomes one BullMQ job in the connection's buffer
 * queue (`proxy-buffer-<connection>`, under the bridge's `{bull}` prefix like the delivery
 * queues), written to Redis before the write is answered. buffer-replay.ts replays the jobs one
 * at a time, oldest first. A job carries the request as it will be sent (rewrites applied):
 * method, path below the base path, body, and the two headers that change its meaning.
 * @see https://docs.bullmq.io/guide/queues
 */

export interface BufferedWrite {
  connectionId: string;
  type: ResourceType;
  /** The upstream's id of the resource (from the path). */
  id: string;
  op: Exclude<ProxyOp, 'create'>;
  method: 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query below the connection's base path, e.g. `/Users/42?aadOptscim062020`. */
  path: string;
  /** The rewritten JSON body (PUT, PATCH). */
  body?: string;
  contentType?: string;
  ifMatch?: string;
  requestId: string;
  /** Names only, for the timeline and the dashboard. */
  attributes: string[];
  rewrites: string[];
  /** When the write was accepted (ISO). */
  acceptedAt: string;
  /** Transient replay failures so far; the backoff grows with it. */
  tries?: number;
  /** The latest transient failure, for the dashboard. */
  lastError?: { code: string; upstreamStatus?: number; at: string };
  /** Why the replay failed for good (set just before the job fails), for the admin API and CLI. */
  failure?: { code: 'GW_PROXY_REPLAY_REJECTED' | 'GW_PROXY_BUFFER_EXPIRED' | 'GW_PROXY_REPLAY_SUPERSEDED'; upstreamStatus?: number; at: string };
}

/** Buffer queue of a connection; one per connection so one dead upstream holds up nobody else. */
export function bufferQueueName(connectionId: string): string {
  return `proxy-buffer-${connectionId}`;
}

/** Job name, e.g. `user.patch`, shown in the dashboard. */
export function bufferJobName(write: Pick<BufferedWrite, 'type' | 'op'>): string {
  return `${write.type.toLowerCase()}.${write.op}`;
}

/** What the dashboard shows of a buffered write: everything but the body and headers (values). */
export function bufferJobSummary(write: Partial<BufferedWrite> | undefined): Partial<BufferedWrite> {
  const { body: _body, contentType: _type, ifMatch: _ifMatch, ...rest } = write ?? {};
  return rest;
}

export interface WriteBufferOptions {
  /** An ioredis instance (shared) or connection options. */
  connection: ConnectionOptions;
  /** BullMQ key prefix (bullPrefix(config)). */
  prefix: string;
  settings: ProxyBufferConfig;
}

export interface WriteBuffer {
  readonly settings: ProxyBufferConfig;
  queue: Queue<BufferedWrite>;
  /** Writes not yet replayed (waiting, running, or waiting for a retry). */
  pending(): Promise<number>;
  /** Adds the write (durable once this resolves); its job id. */
  accept(write: BufferedWrite): Promise<string>;
  close(): Promise<void>;
}

/** States of a job that is still to be replayed. */
const PENDING_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export function bufferJobOptions(settings: ProxyBufferConfig): JobsOptions {
  return {
    // Transient failures do not use attempts up (the replay waits and puts the job back at the head).
    attempts: 1,
    removeOnComplete: { count: 1_000 },
    removeOnFail: { age: settings.failedRetention.maxAgeHours * 3600, count: settings.failedRetention.maxCount },
  };
}

export function createWriteBuffer(connectionId: string, options: WriteBufferOptions): WriteBuffer {
  const queue = new Queue<BufferedWrite>(bufferQueueName(connectionId), { connection: options.connection, prefix: options.prefix });
  // Failures surface on the calls themselves (a 503 to the client); no stack per reconnect.
  queue.on('error', () => {});
  return {
    settings: options.settings,
    queue,
    async pending() {
      const counts = await queue.getJobCounts(...PENDING_STATES);
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    async accept(write) {
      // BullMQ's ids are increasing integers: the wait list is FIFO by them.
      const job = await queue.add(bufferJobName(write), write, bufferJobOptions(options.settings));
      return job.id ?? '';
    },
    async close() {
      await queue.close();
    },
  };
}
