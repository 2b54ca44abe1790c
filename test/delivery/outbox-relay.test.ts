import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsFor, startOutboxRelay } from '../../src/delivery/outbox-relay.js';
import type { DeliveryLogger } from '../../src/delivery/logger.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { ResourceStore } from '../../src/store/types.js';
import type { ScimResource } from '../../src/scim/types.js';
import { waitFor } from '../helpers/wait.js';
import { deleteByPrefix, TEST_REDIS_URL } from '../helpers/redis.js';

/** The outbox relay against a real store: claims, leases, failures and several relays at once. */

let redis: Redis;
let store: ResourceStore;
const prefix = `sbtest-relay-${randomUUID().slice(0, 8)}`;
const logged: string[] = [];
const logger: DeliveryLogger = {
  debug: () => undefined,
  info: (_f, msg) => void logged.push(msg),
  warn: (_f, msg) => void logged.push(msg),
  error: (_f, msg) => void logged.push(msg),
};

function user(n: string): ScimResource & { id: string; userName: string } {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
    id: randomUUID(),
    userName: `${n}-${randomUUID().slice(0, 6)}@example.com`,
    meta: { resourceType: 'User' as const, created: new Date().toISOString(), lastModified: new Date().toISOString() },
  };
}

beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
  store = createRedisStore(redis, { prefix });
});
afterAll(async () => {
  await deleteByPrefix(redis, prefix);
  await redis.quit();
});

describe('outbox relay', () => {
  it('queues one job per resource, for its newest revision, with the newest write\'s request id', () => {
    const jobs = jobsFor('acme', [
      { type: 'User', id: 'u1', revision: 1, name: 'ada', requestId: 'r1' },
      { type: 'User', id: 'u1', revision: 3, requestId: 'r3' },
      { type: 'User', id: 'u1', revision: 2, name: 'ada2', requestId: 'r2' },
      { type: 'Group', id: 'g1', revision: 5 },
    ]);
    expect(jobs).toEqual([
      { connectionId: 'acme', type: 'User', id: 'u1', revision: 3, requestId: 'r3', name: 'ada' },
      { connectionId: 'acme', type: 'Group', id: 'g1', revision: 5 },
    ]);
  });

  it('keeps the entries when queueing fails and relays them once it works again', async () => {
    const doc = user('flaky');
    await store.create('User', doc, { note: { requestId: 'req-flaky', name: doc.userName } });
    const queued: DeliveryJobData[] = [];
    let failures = 1;
    const relay = startOutboxRelay({
      connectionId: 'acme',
      store,
      logger,
      leaseMs: 200,
      pollMs: 10,
      async enqueue(jobs) {
        if (failures-- > 0) throw new Error('queue down');
        queued.push(...jobs);
      },
    });
    try {
      await waitFor(() => queued.some((j) => j.id === doc.id), 'the job of the write', 10_000);
      expect(queued.find((j) => j.id === doc.id)).toEqual({ connectionId: 'acme', type: 'User', id: doc.id, revision: 1, requestId: 'req-flaky', name: doc.userName });
      await waitFor(async () => (await store.outboxSize()) === 0, 'an empty outbox');
      expect(logged).toContain('outbox relay: could not queue accepted writes, retrying');
      await waitFor(() => logged.includes('outbox relay: working again'), 'the relay to log its recovery');
    } finally {
      await relay.stop();
    }
  });

  it('lets several relays share one outbox without queueing an entry twice', async () => {
    const docs = Array.from({ length: 300 }, (_, i) => user(`shared${i}`));
    const queued: DeliveryJobData[] = [];
    const relays = [1, 2, 3].map(() =>
      startOutboxRelay({ connectionId: 'acme', store, logger, pollMs: 5, batch: 7, enqueue: async (jobs) => void queued.push(...jobs) }),
    );
    try {
      await Promise.all(docs.map((d) => store.create('User', d)));
      await waitFor(() => docs.every((d) => queued.some((j) => j.id === d.id)), 'every job', 10_000);
      const ids = queued.map((j) => j.id).filter((id) => docs.some((d) => d.id === id));
      expect(ids).toHaveLength(new Set(ids).size);
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
  });
});
