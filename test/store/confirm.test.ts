import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../../src/store/redis-store.js';
import { readRecord } from '../../src/store/record.js';
import type { ResourceStore } from '../../src/store/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { entraUser, scimGroup, unique } from './fixtures.js';

/**
 * The store side of first-attempt confirmation on real Redis: a waited-for write keeps what it
 * replaced; the worker's rejection rolls it back in one script (document, indexes, members), and
 * whichever of worker and writer settles first wins.
 */

const TTL = 30_000;
const REJECTED = { kind: 'rejected', status: 400, detail: 'login is too long' } as const;

let testRedis: TestRedis;
let store: ResourceStore;

beforeAll(() => {
  testRedis = createTestRedis('confirm');
  store = createRedisStore(testRedis.redis, { prefix: testRedis.prefix });
});

afterAll(async () => {
  await testRedis.cleanup();
});

/** Keys of the store that hold confirmation or snapshot state. */
async function leftovers(): Promise<string[]> {
  const keys = await testRedis.redis.keys(`${testRedis.prefix}:*`);
  const hashes = keys.filter((k) => k.includes(':doc:'));
  const withPrev: string[] = [];
  for (const key of hashes) if ((await readRecord(testRedis.redis, key))?.prevof !== undefined) withPrev.push(key);
  return [...keys.filter((k) => k.includes(':confirm:') && !k.endsWith(':reply')), ...keys.filter((k) => k.includes('prevmembers') || k.includes('prevdetails')), ...withPrev];
}

describe('first-attempt confirmation in the store', () => {
  it('rolls a rejected update back: previous document and indexes, as a new revision with an outbox entry', async () => {
    const oldName = `${unique('ada')}@example.com`;
    const newName = `${unique('ada-new')}@example.com`;
    const user = await store.create('User', entraUser(oldName));
    const changed = await store.update('User', user.id, 1, { ...user.doc, userName: newName }, { confirmTtlMs: TTL });
    expect(changed.revision).toBe(2);
    expect(await store.findBy('User', 'userName', newName)).toEqual([user.id]);

    expect(await store.settleConfirmation('User', user.id, 2, REJECTED)).toEqual({ kind: 'restored', revision: 3 });
    const after = await store.get('User', user.id);
    expect(after).toEqual({ type: 'User', id: user.id, revision: 3, doc: user.doc });
    expect(await store.findBy('User', 'userName', oldName)).toEqual([user.id]);
    expect(await store.findBy('User', 'userName', newName)).toEqual([]);
    expect(await store.outboxDue(-60_000, 100)).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'User', id: user.id, revision: 3 })]));
    // The writer reads the rejection; nothing of the wait is left behind.
    expect(await store.collectConfirmation('User', user.id, 2)).toEqual(REJECTED);
    expect(await leftovers()).toEqual([]);
  });

  it('removes a rejected create entirely: the userName is free again and listing skips it', async () => {
    const name = `${unique('grace')}@example.com`;
    const before = await store.count('User');
    const user = await store.create('User', entraUser(name), { confirmTtlMs: TTL });
    expect(await store.settleConfirmation('User', user.id, 1, REJECTED)).toEqual({ kind: 'removed', groups: [] });
    expect(await store.get('User', user.id)).toBeNull();
    expect(await store.getForDelivery('User', user.id)).toBeNull();
    expect(await store.findBy('User', 'userName', name)).toEqual([]);
    expect(await store.count('User')).toBe(before);
    await expect(store.create('User', entraUser(name))).resolves.toMatchObject({ revision: 1 });
    expect(await store.collectConfirmation('User', user.id, 1)).toEqual(REJECTED);
  });

  it('restores the member set of a group whose membership change was rejected', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map((i) => store.create('User', entraUser(`${unique(`m${i}`)}@example.com`))));
    const group = await store.create('Group', scimGroup(unique('team')), { members: { kind: 'set', members: [a!.id, b!.id] } });
    await store.update('Group', group.id, null, null, { members: { kind: 'delta', add: [c!.id], remove: [a!.id] }, confirmTtlMs: TTL });
    expect((await store.get('Group', group.id, { members: true }))?.members).toEqual([b!.id, c!.id].sort());

    expect(await store.settleConfirmation('Group', group.id, 2, REJECTED)).toEqual({ kind: 'restored', revision: 3 });
    expect((await store.get('Group', group.id, { members: true }))?.members).toEqual([a!.id, b!.id].sort());
    expect(await store.groupsOf(a!.id)).toEqual([group.id]);
    expect(await store.groupsOf(c!.id)).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });

  it('gives a removed member back its details (display, nested group type) when the removal is rejected', async () => {
    const user = await store.create('User', entraUser(`${unique('d1')}@example.com`));
    const nested = await store.create('Group', scimGroup(unique('nested')));
    const group = await store.create('Group', scimGroup(unique('parent')), {
      members: { kind: 'set', members: [user.id, nested.id], details: { [user.id]: { display: 'Ada' }, [nested.id]: { type: 'Group', display: 'Nested' } } },
    });
    await store.update('Group', group.id, null, null, { members: { kind: 'delta', add: [], remove: [nested.id] }, confirmTtlMs: TTL });
    expect((await store.get('Group', group.id, { members: true }))?.memberDetails).toEqual({ [user.id]: { display: 'Ada' } });

    expect(await store.settleConfirmation('Group', group.id, 2, REJECTED)).toEqual({ kind: 'restored', revision: 3 });
    const restored = await store.get('Group', group.id, { members: true });
    expect(restored?.members).toEqual([user.id, nested.id].sort());
    expect(restored?.memberDetails).toEqual({ [user.id]: { display: 'Ada' }, [nested.id]: { type: 'Group', display: 'Nested' } });
    expect(await leftovers()).toEqual([]);
  });

  it('keeps the change when the writer gave up first: the late report changes nothing', async () => {
    const user = await store.create('User', entraUser(`${unique('late')}@example.com`));
    await store.update('User', user.id, 1, { ...user.doc, displayName: 'Late' }, { confirmTtlMs: TTL });
    expect(await store.collectConfirmation('User', user.id, 2)).toBeUndefined();
    expect(await store.settleConfirmation('User', user.id, 2, REJECTED)).toEqual({ kind: 'none' });
    expect((await store.get('User', user.id))?.doc.displayName).toBe('Late');
    expect(await leftovers()).toEqual([]);
  });

  it('answers transient instead of rolling back when a newer write came since', async () => {
    const user = await store.create('User', entraUser(`${unique('race')}@example.com`));
    await store.update('User', user.id, 1, { ...user.doc, displayName: 'Two' }, { confirmTtlMs: TTL });
    // A membership-style write without a wait bumps the revision past the one waited for.
    await store.update('User', user.id, null, null, { touchedAt: new Date().toISOString() });
    expect(await store.settleConfirmation('User', user.id, 2, REJECTED)).toEqual({ kind: 'replied' });
    expect(await store.collectConfirmation('User', user.id, 2)).toEqual({ kind: 'transient' });
    expect((await store.get('User', user.id))?.doc.displayName).toBe('Two');
  });

  it('passes a success through and drops the kept state', async () => {
    const user = await store.create('User', entraUser(`${unique('ok')}@example.com`));
    await store.update('User', user.id, 1, { ...user.doc, displayName: 'Fine' }, { confirmTtlMs: TTL });
    expect(await store.settleConfirmation('User', user.id, 2, { kind: 'ok' })).toEqual({ kind: 'replied' });
    expect(await store.settleConfirmation('User', user.id, 2, REJECTED)).toEqual({ kind: 'none' });
    expect(await store.collectConfirmation('User', user.id, 2)).toEqual({ kind: 'ok' });
    expect((await store.get('User', user.id))?.doc.displayName).toBe('Fine');
    expect(await leftovers()).toEqual([]);
  });
});
