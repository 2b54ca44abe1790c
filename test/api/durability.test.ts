import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOutboxSweeper } from '../../src/delivery/outbox.js';
import { deliveryJobId } from '../../src/delivery/types.js';
import type { DeliveryLogger } from '../../src/delivery/logger.js';
import { normalizeResource } from '../../src/scim/normalize.js';
import { newResource, replaceResource } from '../../src/scim/resource.js';
import type { ConnectionRuntime } from '../../src/runtime.js';
import type { OutboxEntry } from '../../src/store/types.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';
import { tag, userBody } from './support.js';

/**
 * A 2xx write is delivered even when the process stops between the store write and the
 * enqueue. The crash is simulated by writing through the runtime's store directly (exactly
 * what the API does before it enqueues); the outbox sweeper must then queue the delivery,
 * and the real worker must bring the sample legacy API to the written state.
 */

interface Account {
  account_id: string;
  login: string;
  first_name?: string;
  last_name?: string;
}

let f: BridgeFixture;
let runtime: ConnectionRuntime;
const warnings: string[] = [];
const logger: DeliveryLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (_fields, msg) => void warnings.push(msg),
  error: (_fields, msg) => void warnings.push(msg),
};

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

async function outboxHas(id: string): Promise<boolean> {
  return (await runtime.store.outboxDue(0, 10_000)).some((e: OutboxEntry) => e.id === id);
}

/** One sweep as a freshly started process would run it, with no grace period. */
async function sweepOnce(): Promise<number> {
  const sweeper = startOutboxSweeper({
    connectionId: runtime.config.id,
    store: runtime.store,
    enqueue: (jobs) => runtime.queue.enqueueMany(jobs),
    logger,
    graceMs: 0,
    intervalMs: 3_600_000,
  });
  try {
    return await sweeper.sweep();
  } finally {
    await sweeper.stop();
  }
}

describe('delivery durability', () => {
  it('delivers a create whose enqueue never happened, once the outbox is swept', async () => {
    const userName = `crash-${tag()}@example.com`;
    const { doc } = newResource('User', normalizeResource('User', userBody(userName, { name: { givenName: 'Crash', familyName: 'Test' } })), {
      id: randomUUID(),
      now: new Date(),
    });
    const stored = await runtime.store.create('User', doc);

    const jobId = deliveryJobId({ type: 'User', id: stored.id, revision: stored.revision });
    expect(await outboxHas(stored.id)).toBe(true);
    expect(await runtime.queue.queue.getJob(jobId)).toBeUndefined();
    const visible = await f.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    expect(visible.body.totalResults).toBe(1);

    expect(await sweepOnce()).toBeGreaterThanOrEqual(1);
    expect(warnings.some((w) => w.startsWith('outbox: re-queued'))).toBe(true);
    expect(await outboxHas(stored.id)).toBe(false);
    expect(await runtime.queue.queue.getJob(jobId)).toBeDefined();

    const delivered = await eventually(async () => (await accountsByLogin(userName)).length === 1);
    expect(delivered).toBe(true);
    expect(await accountsByLogin(userName)).toEqual([expect.objectContaining({ login: userName, first_name: 'Crash', last_name: 'Test' })]);
  });

  it('delivers an update whose enqueue never happened, at its latest revision', async () => {
    const userName = `crash-update-${tag()}@example.com`;
    const created = await f.scim('POST', '/Users', userBody(userName, { name: { givenName: 'Before', familyName: 'Update' } }));
    expect(created.status).toBe(201);
    expect(await eventually(async () => (await accountsByLogin(userName))[0]?.first_name === 'Before')).toBe(true);

    const current = (await runtime.store.get('User', created.body.id))!;
    const { doc } = replaceResource(current.doc, normalizeResource('User', userBody(userName, { name: { givenName: 'After', familyName: 'Update' } })), new Date());
    const updated = await runtime.store.update('User', current.id, current.revision, doc);
    expect(await outboxHas(current.id)).toBe(true);
    expect(await runtime.queue.queue.getJob(deliveryJobId(updated))).toBeUndefined();

    expect(await sweepOnce()).toBeGreaterThanOrEqual(1);
    expect(await eventually(async () => (await accountsByLogin(userName))[0]?.first_name === 'After')).toBe(true);
    expect(await accountsByLogin(userName)).toHaveLength(1);
  });

  it('leaves no outbox entry behind after a normal POST, PATCH or DELETE', async () => {
    const created = await f.scim('POST', '/Users', userBody(`normal-${tag()}@example.com`));
    expect(created.status).toBe(201);
    expect(await outboxHas(created.body.id)).toBe(false);

    const patched = await f.scim('PATCH', `/Users/${created.body.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    });
    expect(patched.status).toBe(200);
    expect(await outboxHas(created.body.id)).toBe(false);

    const group = await f.scim('POST', '/Groups', { displayName: `Durable ${tag()}`, members: [{ value: created.body.id }] });
    expect(group.status).toBe(201);
    expect((await f.scim('DELETE', `/Users/${created.body.id}`)).status).toBe(204);
    expect(await outboxHas(created.body.id)).toBe(false);
    expect(await outboxHas(group.body.id)).toBe(false);
  });
});
