import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ConnectionConfig, ProxyBufferConfig } from '../config/schema.js';
import { silentLogger, type DeliveryLogger } from '../delivery/logger.js';
import { redactBody } from '../delivery/redact.js';
import type { ErrorCode } from '../lib/errors.js';
import { createRedisClient } from '../lib/redis-connection.js';
import { laterWrite } from '../ops/buffer-jobs.js';
import type { ProxyOutcome, ProxyWriteEvent, Timeline } from '../ops/timeline.js';
import { classifyUpstreamError } from './upstream-errors.js';
import { createUpstreamClient } from './upstream-client.js';
import { bufferQueueName, type BufferedWrite } from './write-buffer.js';

/**
 * Replays a `mode: proxy` connection's buffered writes, strictly in the order they were
 * accepted: one job at a time across every worker process (BullMQ global concurrency 1, and a
 * worker concurrency of 1). Per job:
 *
 * - 2xx (and 404 to a DELETE: the resource is gone, as asked) → done;
 * - another 4xx → the job fails for good (`GW_PROXY_REPLAY_REJECTED`, with the upstream's status
 *   and redacted answer), visible in the failed set; the next write goes on;
 * - unreachable, timeout, 408, 429, 5xx, or the upstream refusing the bridge's credentials →
 *   the whole buffer pauses (`Retry-After`, else an exponential backoff) and the same job is
 *   tried again first: BullMQ's manual rate limit puts it back at the head of the wait list
 *   without using an attempt, so no later write can overtake it;
 * - older than `maxAgeMs` → fails for good (`GW_PROXY_BUFFER_EXPIRED`);
 * - a write that failed before and was put back (the admin API, the CLI or the dashboard's retry
 *   button) while a later write of the same resource reached the upstream → fails for good, not
 *   sent (`GW_PROXY_REPLAY_SUPERSEDED`): replaying it would undo that later write.
 *
 * Each attempt adds a timeline event to the resource. A worker killed mid-replay leaves its job
 * to BullMQ's stalled-job check, which replays it again: replays are at least once.
 * @see https://docs.bullmq.io/guide/queues/global-concurrency
 * @see https://docs.bullmq.io/guide/rate-limiting#manual-rate-limit
 */

export interface BufferReplayOptions {
  connection: ConnectionConfig;
  settings: ProxyBufferConfig;
  redisUrl: string;
  /** BullMQ key prefix (the producers'). */
  prefix: string;
  timeline?: Timeline;
  logger?: DeliveryLogger;
  /** The connection's config in effect (runtime.live): rotated target.tls files are picked up from it. */
  live?: () => ConnectionConfig;
}

export interface BufferReplay {
  worker: Worker<BufferedWrite>;
  close(): Promise<void>;
}

/** Limiter ceiling: BullMQ honours a manual rate limit only when the worker has a limiter. */
const UNLIMITED_JOBS = 1_000_000_000;

/** Most of an upstream's refusal read for the failure reason. */
const MAX_REASON_BYTES = 16_384;

type Verdict =
  | { kind: 'replayed'; status: number }
  | { kind: 'rejected'; status: number; answer: string }
  | { kind: 'retry'; status?: number; code: ErrorCode; retryAfterMs?: number };

export async function startBufferReplay(options: BufferReplayOptions): Promise<BufferReplay> {
  const { connection, settings, timeline } = options;
  const logger = options.logger ?? silentLogger;
  const connectionId = connection.id;
  const target = new URL(connection.target.baseUrl);
  const basePath = target.pathname.replace(/\/+$/, '');
  const extraHeaders = Object.fromEntries(Object.entries(connection.target.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const timeoutMs = connection.target.timeoutMs;
  // The same client certificate (target.tls) as the connection's forwarded requests.
  const upstream = createUpstreamClient(connection, {
    ...(options.live ? { live: options.live } : {}),
    pool: { connections: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
    onReloadFailed: (error) => logger.error({ connectionId, code: 'GW_CONFIG_INVALID', err: error.message }, 'new target.tls files not loaded: the running ones stay'),
  });
  const redis = createRedisClient(options.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const admin = new Queue<BufferedWrite>(bufferQueueName(connectionId), { connection: redis, prefix: options.prefix });
  admin.on('error', () => {});
  // One replay at a time across every process: strict FIFO per connection.
  await admin.setGlobalConcurrency(1);

  async function send(write: BufferedWrite): Promise<Verdict> {
    const { pool, credentials, explain } = upstream.current();
    let auth: Awaited<ReturnType<typeof credentials.headers>>;
    try {
      auth = await credentials.headers();
    } catch {
      // The token endpoint failed: the write is fine, the bridge cannot call yet.
      return { kind: 'retry', code: 'GW_DELIVERY_AUTH' };
    }
    try {
      const headers: Record<string, string> = { ...extraHeaders, ...auth.headers };
      if (write.contentType) headers['content-type'] = write.contentType;
      if (write.ifMatch) headers['if-match'] = write.ifMatch;
      const res = await pool.request({ path: `${basePath}${write.path}`, method: write.method, headers, ...(write.body === undefined ? {} : { body: write.body }) });
      const status = res.statusCode;
      const answer = await readText(res.body, MAX_REASON_BYTES);
      if ((status >= 200 && status < 300) || (status === 404 && write.method === 'DELETE')) return { kind: 'replayed', status };
      if (status === 401 || status === 403) {
        if (auth.token !== undefined) credentials.invalidate(auth.token);
        return { kind: 'retry', status, code: 'GW_PROXY_UPSTREAM_AUTH' };
      }
      if (status === 408 || status === 429 || status >= 500) {
        const retryAfterMs = retryAfter(res.headers['retry-after']);
        return { kind: 'retry', status, code: 'GW_PROXY_REPLAY_RETRY', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      }
      return { kind: 'rejected', status, answer };
    } catch (error) {
      return { kind: 'retry', code: classifyUpstreamError(explain(error)).code };
    }
  }

  async function record(write: BufferedWrite, event: Omit<ProxyWriteEvent, 'kind' | 'op' | 'requestId' | 'attributes' | 'rewrites'>): Promise<void> {
    if (!timeline) return;
    const full: ProxyWriteEvent = { kind: 'proxy', op: write.op, requestId: write.requestId, attributes: write.attributes, rewrites: write.rewrites, ...event };
    await timeline.append(write.type, write.id, full).catch((error: unknown) => {
      logger.warn({ connectionId, type: write.type, resourceId: write.id, err: (error as Error).message }, 'could not record the replay in the timeline');
    });
  }

  async function replay(job: Job<BufferedWrite>): Promise<{ upstreamStatus: number }> {
    const write = job.data;
    const jobId = job.id ?? '';
    const started = Date.now();
    const attempt = (write.tries ?? 0) + 1;
    const log = { reqId: write.requestId, jobId, connectionId, type: write.type, resourceId: write.id, method: write.method, attempt };
    const at = new Date(started).toISOString();
    const base = { at, jobId, attempt };
    const age = started - job.timestamp;
    if (age > settings.maxAgeMs) {
      const message = `GW_PROXY_BUFFER_EXPIRED the buffered write is ${Math.round(age / 1000)} s old, past proxy.buffer.maxAgeMs (${settings.maxAgeMs} ms); not replayed`;
      await job.updateData({ ...write, failure: { code: 'GW_PROXY_BUFFER_EXPIRED', at } });
      await record(write, { ...base, outcome: 'replay-failed', durationMs: 0, code: 'GW_PROXY_BUFFER_EXPIRED' });
      logger.error({ ...log, code: 'GW_PROXY_BUFFER_EXPIRED' }, 'buffered write expired');
      throw new UnrecoverableError(message);
    }
    const overtaken = await overtakenBy(job);
    if (overtaken) {
      const message = `GW_PROXY_REPLAY_SUPERSEDED a later write of ${write.type} ${write.id} (${overtaken.op}, ${overtaken.outcome} at ${overtaken.at}) reached the upstream after this one failed; replaying it would undo that write, so it is not sent`;
      await job.updateData({ ...write, failure: { code: 'GW_PROXY_REPLAY_SUPERSEDED', at } });
      await record(write, { ...base, outcome: 'replay-failed', durationMs: 0, code: 'GW_PROXY_REPLAY_SUPERSEDED' });
      logger.warn({ ...log, code: 'GW_PROXY_REPLAY_SUPERSEDED' }, 'retried buffered write overtaken by a later write; not replayed');
      throw new UnrecoverableError(message);
    }
    const verdict = await send(write);
    const durationMs = Date.now() - started;
    const upstream = verdict.status === undefined ? {} : { upstreamStatus: verdict.status };
    const outcome: ProxyOutcome = verdict.kind === 'replayed' ? 'replayed' : verdict.kind === 'rejected' ? 'replay-failed' : 'replay-retry';
    if (verdict.kind === 'replayed') {
      await record(write, { ...base, outcome, ...upstream, durationMs });
      logger.info({ ...log, outcome, upstreamStatus: verdict.status, durationMs }, 'buffered write replayed');
      return { upstreamStatus: verdict.status };
    }
    if (verdict.kind === 'rejected') {
      const path = write.path.split('?')[0];
      const message = `GW_PROXY_REPLAY_REJECTED the upstream answered ${verdict.status} to the buffered ${write.method} ${path}${verdict.answer ? `: ${redactBody(verdict.answer)}` : ''}`;
      await job.updateData({ ...write, failure: { code: 'GW_PROXY_REPLAY_REJECTED', upstreamStatus: verdict.status, at } });
      await record(write, { ...base, outcome, ...upstream, durationMs, code: 'GW_PROXY_REPLAY_REJECTED' });
      logger.error({ ...log, outcome, code: 'GW_PROXY_REPLAY_REJECTED', upstreamStatus: verdict.status, durationMs }, 'buffered write rejected by the upstream');
      throw new UnrecoverableError(message);
    }
    const backoffMs = Math.min(settings.maxBackoffMs, settings.backoffMs * 2 ** Math.min(attempt - 1, 20));
    // The upstream's Retry-After when it gave one, but never a busy loop.
    const delayMs = Math.max(settings.backoffMs, verdict.retryAfterMs ?? backoffMs);
    await job.updateData({ ...write, tries: attempt, lastError: { code: verdict.code, ...upstream, at } });
    await record(write, { ...base, outcome, ...upstream, durationMs, code: verdict.code });
    logger.warn({ ...log, outcome, code: verdict.code, ...upstream, delayMs }, 'buffered write not replayed yet; the buffer waits');
    // Pauses the whole buffer and puts this job back at the head: nothing overtakes it.
    await worker.rateLimit(delayMs);
    throw Worker.RateLimitError();
  }

  /**
   * For a write that failed before (only a retry brings it back): the later write of its resource
   * the upstream applied since it failed, from the timeline. A write on its first turn is never
   * checked: nothing of its resource can have reached the upstream after it in order, and a
   * false match would drop a write.
   */
  async function overtakenBy(job: Job<BufferedWrite>): Promise<Awaited<ReturnType<typeof laterWrite>>> {
    if (!timeline || job.attemptsMade === 0) return undefined;
    return laterWrite(job, timeline, true).catch(() => undefined);
  }

  const worker = new Worker<BufferedWrite>(bufferQueueName(connectionId), replay, {
    connection: redis,
    prefix: options.prefix,
    concurrency: 1,
    limiter: { max: UNLIMITED_JOBS, duration: 1_000 },
  });
  worker.on('error', (error) => logger.error({ connectionId, err: error.message }, 'write buffer worker error'));
  await worker.waitUntilReady();

  return {
    worker,
    async close() {
      await worker.close();
      await Promise.allSettled([admin.close(), upstream.close()]);
      await redis.quit().catch(() => undefined);
    },
  };
}

function retryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 3_600_000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.min(Math.max(0, date - Date.now()), 3_600_000);
}

async function readText(body: AsyncIterable<Buffer | string> & { destroy?: () => void }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > limit) {
      body.destroy?.();
      break;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
