import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Job } from 'bullmq';
import { deliverySchema, targetSchema } from '../../src/config/schema.js';
import type { DeliveryResult } from '../../src/delivery/processor.js';
import { createDeliveryQueue, type DeliveryQueue } from '../../src/delivery/queues.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { startDeliveryWorker, type DeliveryWorker } from '../../src/delivery/worker.js';
import { loadMappingSource } from '../../src/mapping/load.js';
import { SCHEMA_GROUP, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { ResourceStore } from '../../src/store/types.js';
import { startServer, type TestServer } from '../helpers/http-server.js';
import type { TestRedis } from '../helpers/redis.js';

/**
 * One connection's delivery on real parts, for the gate, breaker and isolation tests: a loopback
 * target with a swappable handler, the Redis store, a producer and a BullMQ worker, under a
 * prefix of its own. Users become `POST /accounts`, groups `POST /groups`, members
 * `PUT /groups/{id}/members/{memberId}`.
 */

export const GATE_MAPPING = `
version: 1
users:
  fields:
    login: userName
  create:
    method: POST
    path: /accounts
    targetId: id
groups:
  fields:
    name: displayName
  create:
    method: POST
    path: /groups
    targetId: id
  addMember:
    method: PUT
    path: /groups/{targetId}/members/{member.targetId}
`;

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ConnectionHarness {
  id: string;
  store: ResourceStore;
  producer: DeliveryQueue;
  worker: DeliveryWorker;
  target: TestServer;
  /** Replace how the target answers. */
  setHandler(handler: Handler): void;
  /** Key prefix of the connection's store and gate. */
  storePrefix: string;
  user(id: string): Promise<DeliveryJobData>;
  /** A group of already linked users (their delivery state says they exist in the target). */
  group(id: string, memberIds: string[]): Promise<DeliveryJobData>;
  finished(jobId: string, timeoutMs?: number): Promise<Job<DeliveryJobData, DeliveryResult>>;
  close(): Promise<void>;
}

let seq = 0;

/** A healthy target: creates answer 201 with a fresh id, everything else 204. */
export const healthy: Handler = (req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'POST') res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `t-${++seq}` }));
    else res.writeHead(204).end();
  });
};

export async function startConnection(
  redis: TestRedis,
  id: string,
  handler: Handler,
  delivery: Record<string, unknown> = {},
  target: Record<string, unknown> = {},
): Promise<ConnectionHarness> {
  let current = handler;
  const server = await startServer((req, res) => current(req, res));
  const storePrefix = `${redis.prefix}:${id}`;
  const bullPrefix = `${redis.prefix}:bull`;
  const store = createRedisStore(redis.redis, { prefix: storePrefix });
  const config = deliverySchema.parse({ attempts: 5, backoffMs: 20, maxBackoffMs: 200, concurrency: 4, ...delivery });
  const producer = createDeliveryQueue(id, { connection: redis.redis, prefix: bullPrefix, delivery: config });
  const worker = await startDeliveryWorker({
    connectionId: id,
    redisUrl: redis.url,
    prefix: bullPrefix,
    lockPrefix: storePrefix,
    delivery: config,
    target: targetSchema.parse({ baseUrl: server.url, timeoutMs: 2_000, ...target }),
    store,
    plan: loadMappingSource(GATE_MAPPING, `${id}.yaml`),
    lockRetryMs: 50,
  });
  const now = new Date().toISOString();
  const meta = (resourceType: string) => ({ resourceType, created: now, lastModified: now });

  return {
    id,
    store,
    producer,
    worker,
    target: server,
    storePrefix,
    setHandler(next) {
      current = next;
    },
    async user(userId) {
      const stored = await store.create('User', {
        id: userId,
        schemas: [SCHEMA_USER],
        userName: `${userId}@example.com`,
        meta: meta('User'),
      } as ScimResource);
      const data: DeliveryJobData = { connectionId: id, type: 'User', id: userId, revision: stored.revision };
      await producer.enqueue(data);
      return data;
    },
    async group(groupId, memberIds) {
      for (const memberId of memberIds) {
        await store.create('User', { id: memberId, schemas: [SCHEMA_USER], userName: `${memberId}@example.com`, meta: meta('User') } as ScimResource);
        await store.setDeliveryState('User', memberId, { revision: 1, targetId: `u-${memberId}` });
      }
      const stored = await store.create(
        'Group',
        { id: groupId, schemas: [SCHEMA_GROUP], displayName: groupId, meta: meta('Group') } as ScimResource,
        { members: { kind: 'set', members: memberIds } },
      );
      const data: DeliveryJobData = { connectionId: id, type: 'Group', id: groupId, revision: stored.revision };
      await producer.enqueue(data);
      return data;
    },
    async finished(jobId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const state = await producer.queue.getJobState(jobId);
        if (state === 'completed' || state === 'failed') break;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${state} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const job = await producer.queue.getJob(jobId);
      if (!job) throw new Error(`job ${jobId} disappeared`);
      return job as Job<DeliveryJobData, DeliveryResult>;
    },
    async close() {
      await worker.close(0);
      await producer.queue.obliterate({ force: true }).catch(() => undefined);
      await producer.close();
      await server.close();
    },
  };
}

/** Polls `check` until it gives a value (bounded by count and time, no fixed sleeps in tests). */
export { waitFor } from '../helpers/wait.js';
