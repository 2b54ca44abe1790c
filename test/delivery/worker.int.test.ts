import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverySchema, targetSchema } from '../../src/config/schema.js';
import type { DeliveryResult } from '../../src/delivery/processor.js';
import { createDeliveryQueue, type DeliveryQueue } from '../../src/delivery/queues.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/delivery/worker.js';
import { loadMappingSource } from '../../src/mapping/load.js';
import { SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { ResourceStore } from '../../src/store/types.js';
import { readJson, startServer, type TestServer } from '../helpers/http-server.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The whole delivery path on real parts: Redis, a BullMQ Worker, the Redis store, a mapping
 * loaded from YAML, and a loopback target scripted per user to fail in the ways targets fail.
 */

const MAPPING = `
version: 1
users:
  fields:
    login: userName
    name: displayName
  create:
    method: POST
    path: /api/accounts
    targetId: id
  update:
    method: PUT
    path: /api/accounts/{targetId}
`;

const CONNECTION = 'int';

interface Received {
  method: string;
  url: string;
  body: { login?: string; name?: string } | undefined;
}

/** Per-login script of answers; once used up, the target answers like a healthy API. */
const scripts = new Map<string, Array<(res: ServerResponse) => void>>();
/** Per-login gate: the target holds that login's requests until the gate opens. */
const gates = new Map<string, Promise<void>>();
const received: Received[] = [];
let accounts = 0;

let redis: TestRedis;
let target: TestServer;
let store: ResourceStore;
let producer: DeliveryQueue;
let delivery: DeliveryWorker;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = (await readJson(req)) as Received['body'];
  const entry: Received = { method: req.method ?? '', url: req.url ?? '', body };
  received.push(entry);
  const login = body?.login ?? '';
  await gates.get(login);
  const scripted = scripts.get(login)?.shift();
  if (scripted) return scripted(res);
  if (req.method === 'POST') {
    accounts += 1;
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `a-${accounts}` }));
    return;
  }
  res.writeHead(204).end();
}

function user(id: string, displayName: string): ScimResource {
  const now = new Date().toISOString();
  return {
    id,
    schemas: [SCHEMA_USER],
    userName: `${id}@example.com`,
    displayName,
    meta: { resourceType: 'User', created: now, lastModified: now },
  };
}

async function provision(id: string, displayName = id): Promise<DeliveryJobData> {
  const stored = await store.create('User', user(id, displayName));
  const data: DeliveryJobData = { connectionId: CONNECTION, type: 'User', id, revision: stored.revision };
  await producer.enqueue(data);
  return data;
}


async function finished(jobId: string): Promise<Job<DeliveryJobData, DeliveryResult>> {
  await waitFor(async () => {
    const state = await producer.queue.getJobState(jobId);
    return state === 'completed' || state === 'failed';
  }, `job ${jobId} to finish`);
  const job = await producer.queue.getJob(jobId);
  if (!job) throw new Error(`job ${jobId} disappeared`);
  return job as Job<DeliveryJobData, DeliveryResult>;
}

const jobId = (data: DeliveryJobData): string => `User-${data.id}-r${data.revision}`;
const callsFor = (id: string): Received[] => received.filter((r) => r.body?.login === `${id}@example.com`);

beforeAll(async () => {
  redis = createTestRedis('delivery-int');
  target = await startServer((req, res) => void handle(req, res));
  store = createRedisStore(redis.redis, { prefix: `${redis.prefix}:store` });
  const config = deliverySchema.parse({ attempts: 5, backoffMs: 5, maxBackoffMs: 20, concurrency: 4 });
  producer = createDeliveryQueue(CONNECTION, { connection: redis.redis, prefix: `${redis.prefix}:bull`, delivery: config });
  delivery = await startDeliveryWorker({
    connectionId: CONNECTION,
    redisUrl: redis.url,
    prefix: `${redis.prefix}:bull`,
    lockPrefix: `${redis.prefix}:store`,
    delivery: config,
    target: targetSchema.parse({ baseUrl: target.url, timeoutMs: 2_000 }),
    store,
    plan: loadMappingSource(MAPPING, 'int.yaml'),
  });
});

afterAll(async () => {
  await delivery?.close();
  await producer?.queue.obliterate({ force: true });
  await producer?.close();
  await target?.close();
  await redis?.cleanup();
});

describe('delivery worker (real Redis, BullMQ, store and mapping)', () => {
  it('takes reloaded concurrency and rate limit in place (config hot reload)', async () => {
    const config = deliverySchema.parse({ attempts: 5, backoffMs: 5, maxBackoffMs: 20, concurrency: 4 });
    delivery.reconfigure({ delivery: { ...config, concurrency: 2, rateLimit: { max: 50, durationMs: 1_000 } } });
    expect(delivery.worker.concurrency).toBe(2);
    expect(delivery.worker.opts.limiter).toEqual({ max: 50, duration: 1_000 });
    delivery.reconfigure({ delivery: config });
    expect(delivery.worker.concurrency).toBe(4);
    expect(delivery.worker.opts.limiter?.max).toBeGreaterThan(1_000_000);
  });

  it('retries a 503 with backoff and completes when the target recovers', async () => {
    const unavailable = (res: ServerResponse) => res.writeHead(503).end('maintenance');
    scripts.set('retry@example.com', [unavailable, unavailable]);
    const data = await provision('retry');
    const job = await finished(jobId(data));
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(3);
    expect(job.returnvalue).toEqual({ outcome: 'converged', calls: 1 });
    expect(callsFor('retry').map((r) => r.method)).toEqual(['POST', 'POST', 'POST']);
    expect(await store.getDeliveryState('User', 'retry')).toMatchObject({ revision: 1, targetId: expect.stringMatching(/^a-/) as unknown });
  });

  it('fails a 400 at once, keeping status and the redacted body in the failed set', async () => {
    scripts.set('bad@example.com', [
      (res) => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"login rejected","token":"abc123"}'),
    ]);
    const data = await provision('bad');
    const job = await finished(jobId(data));
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsStarted).toBe(1);
    expect(callsFor('bad')).toHaveLength(1);
    expect(job.failedReason).toMatch(/^GW_DELIVERY_REJECTED 400 POST \/api\/accounts answered 400: /);
    expect(job.failedReason).toContain('login rejected');
    expect(job.failedReason).toContain('"token":"[REDACTED]"');
    expect(job.failedReason).not.toContain('abc123');
    expect(await producer.queue.getFailedCount()).toBeGreaterThanOrEqual(1);
  });

  it('rate-limits the queue on a 429 with Retry-After, then succeeds without burning an attempt', async () => {
    scripts.set('busy@example.com', [(res) => res.writeHead(429, { 'retry-after': '1' }).end()]);
    const data = await provision('busy');
    await waitFor(async () => callsFor('busy').length >= 1, 'the 429');
    const ttl = await waitFor(async () => {
      const value = await producer.queue.getRateLimitTtl();
      return value > 0 ? value : undefined;
    }, 'the queue rate limit');
    expect(ttl).toBeLessThanOrEqual(1_000);
    const job = await finished(jobId(data));
    expect(await job.getState()).toBe('completed');
    expect(job.attemptsMade).toBe(1);
    expect(callsFor('busy')).toHaveLength(2);
  });

  it('collapses a burst of 20 changes into far fewer deliveries that end on the latest state', async () => {
    let open: () => void = () => undefined;
    gates.set('burst@example.com', new Promise<void>((resolve) => (open = resolve)));
    const first = await provision('burst', 'v0');
    await waitFor(async () => callsFor('burst').length >= 1, 'the first delivery to reach the target');

    let revision = first.revision;
    for (let i = 1; i <= 20; i += 1) {
      const stored = await store.update('User', 'burst', revision, user('burst', `v${i}`));
      revision = stored.revision;
      await producer.enqueue({ connectionId: CONNECTION, type: 'User', id: 'burst', revision });
    }
    open();

    await waitFor(async () => ((await store.getDeliveryState('User', 'burst'))?.revision === revision ? true : undefined), 'convergence');
    await waitFor(async () => {
      const counts = await producer.queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    }, 'the queue to drain');
    const calls = callsFor('burst');
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(calls.at(-1)?.body?.name).toBe('v20');
    expect(calls[0]?.method).toBe('POST');
  });
});
