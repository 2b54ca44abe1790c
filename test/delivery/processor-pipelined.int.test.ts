import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { DeliveryLogger } from '../../src/delivery/logger.js';
import { createProcessor } from '../../src/delivery/processor.js';
import { createResourceLock } from '../../src/delivery/resource-lock.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { ResourceStore } from '../../src/store/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { entraUser, scimGroup, unique } from '../store/fixtures.js';
import { createFakeClient, createFakePlan } from './fakes.js';

/**
 * The processor as the runtime runs it (`pipelined`: store and lock on one auto-pipelined
 * connection), on real Redis: a new user's create saves its target id with the script that also
 * answers what waits for that id (its groups, the resources whose `ref:` fields name it), and
 * those are queued before the job counts as done.
 */

let redis: TestRedis;
let store: ResourceStore;

beforeAll(() => {
  redis = createTestRedis('pipelined');
  store = createRedisStore(redis.redis, { prefix: redis.prefix });
});

afterAll(async () => {
  await redis.cleanup();
});

/** The processor as the runtime wires it (pipelined, real store and lock), queueing through `enqueue`. */
function pipelinedProcessor(enqueue: (data: DeliveryJobData) => Promise<void>, client = createFakeClient()) {
  const logger: DeliveryLogger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  return createProcessor({
    connectionId: 'acme',
    store,
    plan: createFakePlan(),
    client,
    lock: createResourceLock(redis.redis, { prefix: redis.prefix }),
    logger,
    pipelined: true,
    enqueue,
    rateLimit: async () => {},
  });
}

describe('processor, pipelined on real Redis', () => {
  it("queues a new user's groups and dependants from the save that links it, and saves its target id", async () => {
    const user = await store.create('User', entraUser(`${unique('linked')}@example.com`));
    const report = await store.create('User', entraUser(`${unique('report')}@example.com`));
    const group = await store.create('Group', scimGroup(unique('team')), { members: { kind: 'set', members: [user.id] } });
    await store.addDependant({ type: 'User', id: user.id }, { type: 'User', id: report.id });
    const enqueued: DeliveryJobData[] = [];
    const client = createFakeClient();
    const linking = vi.spyOn(store, 'linkDeliveryState');
    const lookups = [vi.spyOn(store, 'groupsOf'), vi.spyOn(store, 'dependantsOf')];
    const processor = pipelinedProcessor(async (data) => {
      enqueued.push(data);
    }, client);
    const job = { id: 'job-1', data: { connectionId: 'acme', type: 'User' as const, id: user.id, revision: 1 }, moveToDelayed: vi.fn(async () => undefined) };

    expect(await processor(job, 'token')).toMatchObject({ outcome: 'converged', calls: 1 });
    expect(client.calls).toEqual(['POST /users']);
    expect(await store.getDeliveryState('User', user.id)).toMatchObject({ targetId: 't-1', revision: 1, active: true, createPending: false });
    expect(enqueued).toEqual([
      { connectionId: 'acme', type: 'Group', id: group.id, revision: group.revision, trigger: `linked-${user.id}` },
      { connectionId: 'acme', type: 'User', id: report.id, revision: report.revision, trigger: `ref-User-${user.id}-r1-t-1` },
    ]);
    // One script saved the id and answered both lookups.
    expect(linking).toHaveBeenCalledTimes(1);
    for (const lookup of lookups) expect(lookup).not.toHaveBeenCalled();
    // The lock was released behind the save: the next job of the user takes it at once.
    expect(await redis.redis.exists(`${redis.prefix}:lock:User:${user.id}`)).toBe(0);
  });

  it("saves an update's delivered state with the job's last save: one script, and a rerun makes no call", async () => {
    const user = await store.create('User', entraUser(`${unique('updated')}@example.com`));
    const client = createFakeClient();
    const processor = pipelinedProcessor(async () => {}, client);
    const job = (revision: number, id: string) => ({ id, data: { connectionId: 'acme', type: 'User' as const, id: user.id, revision }, moveToDelayed: vi.fn(async () => undefined) });
    expect(await processor(job(1, 'job-u1'), 'token')).toMatchObject({ outcome: 'converged', calls: 1 });
    const renamed = await store.update('User', user.id, 1, { ...user.doc, displayName: 'Renamed User' });

    const saves = vi.spyOn(store, 'setDeliveryState');
    expect(await processor(job(renamed.revision, 'job-u2'), 'token')).toMatchObject({ outcome: 'converged', calls: 1 });
    expect(client.calls.at(-1)).toMatch(/^PUT \/users\//);
    expect(saves).toHaveBeenCalledTimes(1);
    saves.mockRestore();
    expect(await store.getDeliveryState('User', user.id)).toMatchObject({ revision: renamed.revision });
    // What the update delivered was saved (its fields' hash with it): nothing left to send.
    expect(await processor({ ...job(renamed.revision, 'job-u3'), data: { ...job(renamed.revision, 'job-u3').data, trigger: 'recheck' } }, 'token')).toMatchObject({ calls: 0 });
    expect(await redis.redis.exists(`${redis.prefix}:lock:User:${user.id}`)).toBe(0);
  });

  it('a retry after the follow-ups failed queues them again, though the revision was delivered', async () => {
    const user = await store.create('User', entraUser(`${unique('relinked')}@example.com`));
    const group = await store.create('Group', scimGroup(unique('crew')), { members: { kind: 'set', members: [user.id] } });
    const enqueued: DeliveryJobData[] = [];
    let failNext = true;
    const processor = pipelinedProcessor(async (data) => {
      // Redis dropping out right after the save that linked the user.
      if (failNext) {
        failNext = false;
        throw new Error('Connection is closed.');
      }
      enqueued.push(data);
    });
    const data = { connectionId: 'acme', type: 'User' as const, id: user.id, revision: 1 };
    await expect(processor({ id: 'job-2', data, moveToDelayed: vi.fn(async () => undefined) }, 'token')).rejects.toThrow('Connection is closed.');
    expect(await store.getDeliveryState('User', user.id)).toMatchObject({ targetId: expect.any(String), revision: 1 });
    expect(enqueued).toEqual([]);

    // BullMQ's retry of the same job: nothing to deliver, but the group is queued this time.
    const retried = await processor({ id: 'job-2', data, attemptsMade: 1, moveToDelayed: vi.fn(async () => undefined) }, 'token');
    expect(retried).toMatchObject({ outcome: 'stale', calls: 0 });
    expect(enqueued).toEqual([{ connectionId: 'acme', type: 'Group', id: group.id, revision: group.revision, trigger: `linked-${user.id}` }]);
  });
});
