import { DelayedError, UnrecoverableError } from 'bullmq';
import { describe, expect, it, vi } from 'vitest';
import type { DeliveryLogger } from '../../src/delivery/logger.js';
import { createProcessor, type DeliveryJob, type DeliveryResult } from '../../src/delivery/processor.js';
import type { DeliveryJobData } from '../../src/delivery/types.js';
import { BridgeError } from '../../src/lib/errors.js';
import type { ResourceType } from '../../src/scim/types.js';
import { createFakeClient, createFakePlan, createMemoryLock, createMemoryStore, type FakePlanOptions } from './fakes.js';

function setup(planOptions: FakePlanOptions = {}) {
  const store = createMemoryStore();
  const client = createFakeClient();
  const lock = createMemoryLock();
  const enqueued: DeliveryJobData[] = [];
  const rateLimits: number[] = [];
  const logger: DeliveryLogger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const processor = createProcessor({
    connectionId: 'acme',
    store,
    plan: createFakePlan(planOptions),
    client,
    lock,
    logger,
    enqueue: async (data) => {
      enqueued.push(data);
    },
    rateLimit: async (delayMs) => {
      rateLimits.push(delayMs);
    },
  });
  let jobs = 0;
  const job = (type: ResourceType, id: string): DeliveryJob & { moveToDelayed: ReturnType<typeof vi.fn> } => ({
    id: `job-${(jobs += 1)}`,
    data: { connectionId: 'acme', type, id, revision: 1 },
    moveToDelayed: vi.fn(async () => undefined),
  });
  /** Runs one job for the resource and returns what it did plus the calls it made. */
  const run = async (type: ResourceType, id: string): Promise<DeliveryResult & { made: string[] }> => {
    const before = client.calls.length;
    const result = await processor(job(type, id), 'token');
    return { ...result, made: client.calls.slice(before) };
  };
  const failure = async (type: ResourceType, id: string): Promise<unknown> =>
    processor(job(type, id), 'token').then(
      () => undefined,
      (error: unknown) => error,
    );
  return { store, client, lock, enqueued, rateLimits, logger, processor, job, run, failure };
}

const alice = { id: 'u1', userName: 'alice@example.com', displayName: 'Alice', active: true };

describe('processor: users', () => {
  it('creates, then skips a job whose revision was already delivered', async () => {
    const t = setup();
    t.store.put('User', alice);
    expect(await t.run('User', 'u1')).toEqual({ outcome: 'converged', calls: 1, made: ['POST /users'] });
    expect(t.store.states.get('User:u1')).toMatchObject({ targetId: 't-1', revision: 1, active: true, createPending: false });
    expect(await t.run('User', 'u1')).toEqual({ outcome: 'stale', calls: 0, made: [] });
  });

  it('skips the update when the mapped fields did not change, updates when they did', async () => {
    const t = setup();
    t.store.put('User', alice);
    await t.run('User', 'u1');
    t.store.put('User', { ...alice, nickName: 'not mapped' });
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'converged', made: [] });
    expect(t.store.states.get('User:u1')?.revision).toBe(2);
    t.store.put('User', { ...alice, displayName: 'Alice B.' });
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'converged', made: ['PUT /users/t-1'] });
  });

  it('links an existing account found by lookup instead of creating one, then updates it', async () => {
    const t = setup({ actions: { User: ['lookup', 'create', 'update'] } });
    t.client.script('GET /users?login=', { status: 200, json: [{ id: 'legacy-9' }] });
    t.store.put('User', alice);
    expect(await t.run('User', 'u1')).toMatchObject({
      outcome: 'converged',
      made: ['GET /users?login=alice%40example.com', 'PUT /users/legacy-9'],
    });
    expect(t.store.states.get('User:u1')).toMatchObject({ targetId: 'legacy-9', revision: 1 });
  });

  it('creates when the lookup finds nothing (empty list or 404)', async () => {
    const t = setup({ actions: { User: ['lookup', 'create'] } });
    t.client.script('GET /users?login=', { status: 404, bodyText: 'no such account' });
    t.store.put('User', alice);
    expect(await t.run('User', 'u1')).toMatchObject({ made: ['GET /users?login=alice%40example.com', 'POST /users'] });
  });

  it('after a create with an unknown outcome, looks up first and links what it finds', async () => {
    const t = setup({ actions: { User: ['lookup', 'create', 'update'] } });
    t.store.put('User', alice);
    await t.store.setDeliveryState('User', 'u1', { revision: 0, createPending: true });
    t.client.script('GET /users?login=', { status: 200, json: [{ id: 't-created-before' }] });
    const result = await t.run('User', 'u1');
    expect(result.made).not.toContain('POST /users');
    expect(t.store.states.get('User:u1')?.targetId).toBe('t-created-before');
  });

  it('with a lookup, marks a failed create as outcome unknown only once it failed, then looks up first', async () => {
    const t = setup({ actions: { User: ['lookup', 'create', 'update'] } });
    t.client.script('POST /users', { status: 503, bodyText: 'busy' });
    t.store.put('User', alice);
    expect(await t.failure('User', 'u1')).toBeInstanceOf(BridgeError);
    expect(t.store.states.get('User:u1')).toMatchObject({ createPending: true });
    expect(t.store.states.get('User:u1')?.targetId).toBeUndefined();
    t.client.script('GET /users?login=', { status: 200, json: [{ id: 't-made-anyway' }] });
    const retried = await t.run('User', 'u1');
    expect(retried.made).not.toContain('POST /users');
    expect(t.store.states.get('User:u1')).toMatchObject({ targetId: 't-made-anyway', createPending: false });
  });

  it('with a lookup, a create that succeeds stores no outcome-unknown mark', async () => {
    const t = setup({ actions: { User: ['lookup', 'create'] } });
    t.client.script('GET /users?login=', { status: 404, bodyText: 'no such account' });
    t.store.put('User', alice);
    await t.run('User', 'u1');
    expect(t.store.states.get('User:u1')).toMatchObject({ targetId: 't-1', createPending: false });
  });

  it('after a create with an unknown outcome and no lookup, warns and creates again', async () => {
    const t = setup();
    t.store.put('User', alice);
    await t.store.setDeliveryState('User', 'u1', { revision: 0, createPending: true });
    expect(await t.run('User', 'u1')).toMatchObject({ made: ['POST /users'] });
    expect(t.logger.warn).toHaveBeenCalledWith(expect.objectContaining({ resourceId: 'u1' }), expect.stringContaining('creating again'));
  });

  it('fails for good when the create answer has no target id, leaving createPending set', async () => {
    const t = setup();
    t.client.script('POST /users', { status: 201, json: {} });
    t.store.put('User', alice);
    const error = await t.failure('User', 'u1');
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(/^GW_MAP_NO_TARGET_ID/);
    expect(t.store.states.get('User:u1')).toMatchObject({ createPending: true });
  });

  it('deactivates after creating an inactive user, then reactivates', async () => {
    const t = setup();
    t.store.put('User', { ...alice, active: false });
    expect(await t.run('User', 'u1')).toMatchObject({ made: ['POST /users', 'POST /users/t-1/disable'] });
    expect(t.store.states.get('User:u1')?.active).toBe(false);
    t.store.put('User', { ...alice, active: true });
    expect(await t.run('User', 'u1')).toMatchObject({ made: ['POST /users/t-1/enable'] });
  });

  it('sends active through the update when the mapping has no deactivate call', async () => {
    const t = setup({ actions: { User: ['create', 'update'] } });
    t.store.put('User', alice);
    await t.run('User', 'u1');
    t.store.put('User', { ...alice, active: false });
    expect(await t.run('User', 'u1')).toMatchObject({ made: [] });
  });

  it('deletes a linked user in the target (404 counts as done) and purges it', async () => {
    const t = setup();
    t.store.put('User', alice);
    await t.run('User', 'u1');
    t.store.remove('User', 'u1');
    t.client.script('DELETE /users/t-1', { status: 404 });
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'deleted', made: ['DELETE /users/t-1'] });
    expect(t.store.purged).toEqual(['User:u1']);
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'purged', made: [] });
  });

  it('deactivates a deleted user when the mapping has no delete call', async () => {
    const t = setup({ actions: { User: ['create', 'deactivate'] } });
    t.store.put('User', alice);
    await t.run('User', 'u1');
    t.store.remove('User', 'u1');
    t.client.script('POST /users/t-1/disable', { status: 410 });
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'deleted', made: ['POST /users/t-1/disable'] });
  });

  it('purges a deleted user that never reached the target without any call', async () => {
    const t = setup();
    t.store.put('User', alice);
    t.store.remove('User', 'u1');
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'deleted', made: [] });
    expect(t.store.purged).toEqual(['User:u1']);
  });

  it('does nothing for a type the mapping does not deliver', async () => {
    const t = setup({ actions: { Group: [] } });
    t.store.put('Group', { id: 'g1', displayName: 'Sales' });
    expect(await t.run('Group', 'g1')).toMatchObject({ outcome: 'unsupported', made: [] });
  });
});

describe('processor: groups and members', () => {
  async function linkedUsers(t: ReturnType<typeof setup>, ...ids: string[]) {
    for (const id of ids) {
      t.store.put('User', { id, userName: `${id}@example.com` });
      await t.run('User', id);
    }
  }

  it('adds desired members and removes the others', async () => {
    const t = setup();
    await linkedUsers(t, 'u1', 'u2');
    t.store.put('Group', { id: 'g1', displayName: 'Sales' }, ['u1', 'u2']);
    expect(await t.run('Group', 'g1')).toMatchObject({
      outcome: 'converged',
      made: ['POST /groups', 'PUT /groups/t-3/members/t-1', 'PUT /groups/t-3/members/t-2'],
    });
    t.store.put('Group', { id: 'g1', displayName: 'Sales' }, ['u1']);
    t.client.script('DELETE /groups/t-3/members/t-2', { status: 404 });
    expect(await t.run('Group', 'g1')).toMatchObject({ made: ['DELETE /groups/t-3/members/t-2'] });
    expect([...(t.store.delivered.get('g1') ?? [])]).toEqual([['u1', 't-1']]);
  });

  it('keeps a member that is not linked yet pending, and delivers it once the user links', async () => {
    const t = setup();
    t.store.put('User', { id: 'u3', userName: 'carol@example.com' });
    t.store.put('Group', { id: 'g1', displayName: 'Sales' }, ['u3']);
    expect(await t.run('Group', 'g1')).toMatchObject({ outcome: 'waiting', made: ['POST /groups'] });
    expect(t.store.states.get('Group:g1')).toMatchObject({ targetId: 't-1', revision: 0 });

    await t.run('User', 'u3');
    expect(t.enqueued).toEqual([{ connectionId: 'acme', type: 'Group', id: 'g1', revision: 1, trigger: 'linked-u3' }]);
    expect(await t.run('Group', 'g1')).toMatchObject({ outcome: 'converged', made: ['PUT /groups/t-1/members/t-2'] });
    expect(t.store.states.get('Group:g1')?.revision).toBe(1);
  });
});

describe('processor: outcomes', () => {
  it('a 4xx fails the job for good with code, status and a redacted body', async () => {
    const t = setup();
    t.client.script('POST /users', { status: 400, bodyText: '{"error":"login taken","password":"hunter2"}' });
    t.store.put('User', alice);
    const error = await t.failure('User', 'u1');
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(/^GW_DELIVERY_REJECTED 400 POST \/users answered 400: .*login taken/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('a 5xx is retryable, and the retry does not repeat calls that succeeded', async () => {
    const t = setup();
    t.client.script('POST /users/t-1/disable', { status: 503 });
    t.store.put('User', { ...alice, active: false });
    const error = await t.failure('User', 'u1');
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect(error).toMatchObject({ code: 'GW_DELIVERY_RETRYABLE' });
    expect(await t.run('User', 'u1')).toMatchObject({ outcome: 'converged', made: ['POST /users/t-1/disable'] });
  });

  it('a network error is retryable', async () => {
    const t = setup();
    t.client.script('POST /users', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    t.store.put('User', alice);
    expect(await t.failure('User', 'u1')).toMatchObject({ code: 'GW_DELIVERY_UNREACHABLE' });
  });

  it('a 429 rate-limits the queue for Retry-After and throws the rate-limit error', async () => {
    const t = setup();
    t.client.script('POST /users', { status: 429, headers: { 'retry-after': '2' } });
    t.store.put('User', alice);
    const error = await t.failure('User', 'u1');
    expect(t.rateLimits).toEqual([2000]);
    expect((error as Error).message).toBe('bullmq:rateLimitExceeded');
    expect(t.lock.held.size).toBe(0);
  });

  it('a mapping evaluation error fails the job for good with GW_MAP_EVAL', async () => {
    const t = setup({ failWith: new Error('T2002 The expressions on either side of operator "+" must be numbers') });
    t.store.put('User', alice);
    const error = await t.failure('User', 'u1');
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toMatch(/^GW_MAP_EVAL T2002/);
  });

  it('delays the job when another delivery holds the resource', async () => {
    const t = setup();
    t.store.put('User', alice);
    t.lock.hold('User', 'u1');
    const job = t.job('User', 'u1');
    await expect(t.processor(job, 'tok')).rejects.toBeInstanceOf(DelayedError);
    expect(job.moveToDelayed).toHaveBeenCalledWith(expect.any(Number), 'tok');
    expect(t.client.calls).toEqual([]);
  });
});
