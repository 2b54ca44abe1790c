import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOutboxRelay } from '../../src/delivery/outbox-relay.js';
import { deliveryJobId } from '../../src/delivery/types.js';
import type { DeliveryLogger } from '../../src/delivery/logger.js';
import { normalizeResource } from '../../src/scim/normalize.js';
import { newResource, replaceResource } from '../../src/scim/resource.js';
import type { ConnectionRuntime } from '../../src/runtime.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';
import { tag, userBody } from './support.js';

/**
 * A 2xx write is delivered whatever happens after it: its outbox entry is part of the write
 * itself, and the outbox relay beside each worker turns entries into delivery jobs.
 * - An API process without a worker queues nothing: the entry waits, with the request id and
 *   name its job will carry, until a relay runs.
 * - A write made by another process (here: through the runtime's store directly, which is
 *   exactly the API's write, without the in-process nudge) is found by the relay's poll.
 * - A relay that claims entries and dies before queueing them (here: a claim made by hand,
 *   never acknowledged) only delays them: they come due again when the lease ends.
 */

interface Account {
  account_id: string;
  login: string;
  first_name?: string;
  last_name?: string;
}

const silent: DeliveryLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('delivery durability: an API process without a worker', () => {
  let api: BridgeFixture;
  let runtime: ConnectionRuntime;

  beforeAll(async () => {
    api = await startBridgeFixture('api-durability-apionly', { worker: false });
    runtime = api.bridge.runtime.connection('acme');
  });
  afterAll(async () => {
    await api?.close();
  });

  it('keeps the accepted write in the outbox with its request id and name, and a relay queues its job', async () => {
    const userName = `outbox-${tag()}@example.com`;
    const created = await api.scim('POST', '/Users', userBody(userName), { 'x-request-id': 'req-durable-1' });
    expect(created.status).toBe(201);
    const jobId = deliveryJobId({ type: 'User', id: created.body.id, revision: 1 });
    expect(await runtime.queue.queue.getJob(jobId)).toBeUndefined();
    const waiting = await runtime.store.outboxDue(0, 10_000);
    expect(waiting).toContainEqual(expect.objectContaining({ type: 'User', id: created.body.id, revision: 1, name: userName }));
    expect(await runtime.store.outboxSize()).toBeGreaterThanOrEqual(1);

    const relay = startOutboxRelay({ connectionId: 'acme', store: runtime.store, enqueue: (jobs) => runtime.queue.enqueueMany(jobs), logger: silent });
    try {
      const job = await eventually(() => runtime.queue.queue.getJob(jobId));
      expect(job?.data).toEqual(expect.objectContaining({ type: 'User', id: created.body.id, revision: 1, name: userName }));
      expect(typeof job?.data.requestId).toBe('string');
      expect(await eventually(async () => (await runtime.store.outboxSize()) === 0)).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  it('gives a burst of writes to one resource one job, for its newest revision', async () => {
    const userName = `burst-${tag()}@example.com`;
    const created = await api.scim('POST', '/Users', userBody(userName));
    for (const active of [false, true, false]) {
      const patched = await api.scim('PATCH', `/Users/${created.body.id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: active }],
      });
      expect(patched.status).toBe(200);
    }
    const relay = startOutboxRelay({ connectionId: 'acme', store: runtime.store, enqueue: (jobs) => runtime.queue.enqueueMany(jobs), logger: silent });
    try {
      expect(await eventually(async () => (await runtime.store.outboxSize()) === 0)).toBe(true);
    } finally {
      await relay.stop();
    }
    expect(await runtime.queue.queue.getJob(deliveryJobId({ type: 'User', id: created.body.id, revision: 4 }))).toBeDefined();
    expect(await runtime.queue.queue.getJob(deliveryJobId({ type: 'User', id: created.body.id, revision: 1 }))).toBeUndefined();
  });
});

describe('delivery durability: with a worker', () => {
  let f: BridgeFixture;
  let runtime: ConnectionRuntime;

  beforeAll(async () => {
    f = await startBridgeFixture('api-durability');
    runtime = f.bridge.runtime.connection('acme');
  });
  afterAll(async () => {
    await f?.close();
  });

  async function accountsByLogin(login: string): Promise<Account[]> {
    return ((await f.legacy.get(`/api/v1/accounts?login=${encodeURIComponent(login)}`)) as { data: Account[] }).data;
  }

  it("delivers a create written by another process (no nudge), found by the relay's poll", async () => {
    const userName = `crash-${tag()}@example.com`;
    const { doc } = newResource('User', normalizeResource('User', userBody(userName, { name: { givenName: 'Crash', familyName: 'Test' } })), {
      id: randomUUID(),
      now: new Date(),
    });
    await runtime.store.create('User', doc);
    expect(await eventually(async () => (await accountsByLogin(userName)).length === 1)).toBe(true);
    expect(await accountsByLogin(userName)).toEqual([expect.objectContaining({ login: userName, first_name: 'Crash', last_name: 'Test' })]);
  });

  it('delivers an update whose relay died after claiming it, once the lease ends', async () => {
    const userName = `crash-update-${tag()}@example.com`;
    const created = await f.scim('POST', '/Users', userBody(userName, { name: { givenName: 'Before', familyName: 'Update' } }));
    expect(created.status).toBe(201);
    expect(await eventually(async () => (await accountsByLogin(userName))[0]?.first_name === 'Before')).toBe(true);

    const current = (await runtime.store.get('User', created.body.id))!;
    const { doc } = replaceResource(current.doc, normalizeResource('User', userBody(userName, { name: { givenName: 'After', familyName: 'Update' } })), new Date());
    const updated = await runtime.store.update('User', current.id, current.revision, doc);
    // A dead relay's claim: the entry leaves the due set for the lease and nobody queues it.
    // (The running relay may claim it first; then this only checks the normal path.)
    const claimed = await runtime.store.outboxClaim(10_000, 1_000);
    if (claimed.some((e) => e.id === current.id)) {
      expect(await runtime.store.outboxDue(0, 10_000)).not.toContainEqual(expect.objectContaining({ id: current.id }));
    }
    expect(await eventually(async () => (await accountsByLogin(userName))[0]?.first_name === 'After')).toBe(true);
    expect(await accountsByLogin(userName)).toHaveLength(1);
    expect(await eventually(() => runtime.queue.queue.getJob(deliveryJobId(updated)))).toBeDefined();
  });

  it('leaves no outbox entry behind after a normal POST, PATCH or DELETE', async () => {
    const created = await f.scim('POST', '/Users', userBody(`normal-${tag()}@example.com`));
    expect(created.status).toBe(201);
    const patched = await f.scim('PATCH', `/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(patched.status).toBe(200);
    const group = await f.scim('POST', '/Groups', { displayName: `Durable ${tag()}`, members: [{ value: created.body.id }] });
    expect(group.status).toBe(201);
    expect((await f.scim('DELETE', `/Users/${created.body.id}`)).status).toBe(204);
    expect(await eventually(async () => (await runtime.store.outboxSize()) === 0)).toBe(true);
  });
});
