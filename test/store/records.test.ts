import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreKeys, type StoreKeys } from '../../src/store/keys.js';
import { parseRecord, readRecord } from '../../src/store/record.js';
import { decodeDeliveryState, encodeDeliveryState } from '../../src/store/state-codec.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { defineStoreScripts } from '../../src/store/scripts.js';
import type { ResourceStore } from '../../src/store/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { entraUser, scimGroup, unique } from './fixtures.js';

/**
 * A resource is one string record (`record.ts`); resources written by a release before records
 * are hashes, read as they are and stored as records at their next write.
 */
let testRedis: TestRedis;
let store: ResourceStore;
let keys: StoreKeys;

beforeAll(() => {
  testRedis = createTestRedis('records');
  store = createRedisStore(testRedis.redis, { prefix: testRedis.prefix });
  keys = createStoreKeys(testRedis.prefix);
});

afterAll(async () => {
  await testRedis.cleanup();
});

/** Rewrites a stored resource the way a release before records kept it: one Redis hash. */
async function asLegacyHash(key: string): Promise<void> {
  const fields = await readRecord(testRedis.redis, key);
  if (!fields) throw new Error(`nothing stored at ${key}`);
  await testRedis.redis.multi().del(key).hset(key, fields).exec();
}

describe('resource records', () => {
  it('stores a resource as one string of its fields', async () => {
    const user = await store.create('User', entraUser(`${unique('rec')}@example.com`));
    await store.setDeliveryState('User', user.id, { revision: 1, targetId: 't-1', bodyHash: 'h', active: true });
    const key = keys.doc('User', user.id);
    expect(await testRedis.redis.type(key)).toBe('string');
    const fields = parseRecord((await testRedis.redis.get(key)) as string);
    expect(Object.keys(fields).sort()).toEqual(['delivery', 'doc', 'ix', 'rev']);
    expect(fields.rev).toBe('1');
    expect(decodeDeliveryState(fields.delivery!)).toEqual({ revision: 1, targetId: 't-1', bodyHash: 'h', active: true });
  });

  it('keeps delivery state in short names, and reads the long names of an older release', async () => {
    const state = { revision: 3, targetId: 'acc_1', bodyHash: 'x', active: false, createPending: false, progress: { step: 's', done: 1, captured: { a: 1 } }, nameHash: 'n', fields: { f: [1] } };
    const encoded = encodeDeliveryState(state);
    expect(JSON.parse(encoded)).toEqual({ r: 3, t: 'acc_1', h: 'x', a: 0, c: 0, p: { step: 's', done: 1, captured: { a: 1 } }, n: 'n', f: { f: [1] } });
    expect(decodeDeliveryState(encoded)).toEqual(state);
    expect(decodeDeliveryState(encodeDeliveryState({ revision: 1 }))).toEqual({ revision: 1 });
    expect(decodeDeliveryState(JSON.stringify(state))).toEqual(state);

    // A rejected create whose target id is in the long form of an older release is not removed.
    const user = await store.create('User', entraUser(`${unique('long')}@example.com`), { confirmTtlMs: 60_000 });
    const key = keys.doc('User', user.id);
    const fields = (await readRecord(testRedis.redis, key))!;
    await testRedis.redis.multi().del(key).hset(key, { ...fields, delivery: JSON.stringify({ revision: 0, targetId: 'acc_9' }) }).exec();
    const settled = await store.settleConfirmation('User', user.id, 1, { kind: 'rejected', status: 400, detail: 'no' });
    expect(settled).toEqual({ kind: 'replied' });
    expect((await store.get('User', user.id))?.id).toBe(user.id);
  });

  it('reads a resource and its delivery state in one read', async () => {
    const member = await store.create('User', entraUser(`${unique('both')}@example.com`));
    const group = await store.create('Group', scimGroup(unique('both')), { members: { kind: 'set', members: [member.id] } });
    expect(await store.getWithDeliveryState('User', member.id)).toEqual([{ ...(await store.getForDelivery('User', member.id)) }, null]);
    await store.setDeliveryState('Group', group.id, { revision: 1, targetId: 'g-1' });
    const [read, state] = await store.getWithDeliveryState('Group', group.id);
    expect(read).toMatchObject({ id: group.id, revision: 1, deleted: false, members: [member.id] });
    expect(state).toEqual({ revision: 1, targetId: 'g-1' });
    await store.delete('Group', group.id);
    expect((await store.getWithDeliveryState('Group', group.id))[0]).toMatchObject({ deleted: true, revision: 2 });
    expect(await store.getWithDeliveryState('User', 'missing')).toEqual([null, null]);
  });

  it('keeps values with control characters exact (JSON escapes the separator)', async () => {
    const name = `${unique('ctl')}\u001f\u001e@example.com`;
    const user = await store.create('User', { ...entraUser(name), displayName: 'A\u001fB' });
    expect((await store.get('User', user.id))?.doc).toMatchObject({ userName: name, displayName: 'A\u001fB' });
    expect(await store.findBy('User', 'userName', name)).toEqual([user.id]);
    await store.delete('User', user.id);
    expect(await store.findBy('User', 'userName', name)).toEqual([]);
  });

  it('refuses a value holding the separator, and leaves the record as it was', async () => {
    const user = await store.create('User', entraUser(`${unique('sep')}@example.com`));
    const key = keys.doc('User', user.id);
    const before = await testRedis.redis.get(key);
    await expect(defineStoreScripts(testRedis.redis).setDeliveryState(key, 'a\u001fb')).rejects.toThrow(/holds the separator/);
    expect(await testRedis.redis.get(key)).toBe(before);
  });

  it('reads a user kept as a hash by an older release, and stores it as a record at its next write', async () => {
    const userName = `${unique('old')}@example.com`;
    const user = await store.create('User', entraUser(userName));
    await store.setDeliveryState('User', user.id, { revision: 1, targetId: 't-old', bodyHash: 'h', active: true });
    const key = keys.doc('User', user.id);
    await asLegacyHash(key);
    expect(await testRedis.redis.type(key)).toBe('hash');

    expect((await store.get('User', user.id))?.doc.userName).toBe(userName);
    expect(await store.getRevision('User', user.id)).toBe(1);
    expect((await store.getDeliveryState('User', user.id))?.targetId).toBe('t-old');
    expect((await store.getForDelivery('User', user.id))?.revision).toBe(1);

    const renamed = `${unique('new')}@example.com`;
    await store.update('User', user.id, 1, { ...user.doc, userName: renamed });
    expect(await testRedis.redis.type(key)).toBe('string');
    expect(await store.findBy('User', 'userName', userName)).toEqual([]);
    expect(await store.findBy('User', 'userName', renamed)).toEqual([user.id]);
    expect((await store.getDeliveryState('User', user.id))?.targetId).toBe('t-old');
    expect(await store.getRevision('User', user.id)).toBe(2);
  });

  it('reads groups with members when only some of them are still hashes', async () => {
    const member = await store.create('User', entraUser(`${unique('mix')}@example.com`));
    const old = await store.create('Group', scimGroup(unique('old')), { members: { kind: 'set', members: [member.id] } });
    const fresh = await store.create('Group', scimGroup(unique('new')), { members: { kind: 'set', members: [member.id] } });
    await asLegacyHash(keys.doc('Group', old.id));
    const read = await store.getMany('Group', [old.id, fresh.id], { members: true });
    expect(read.map((g) => [g.id, g.members])).toEqual([
      [old.id, [member.id]],
      [fresh.id, [member.id]],
    ]);
  });

  it('reads a group and its members kept as hashes, and deletes a member kept as one', async () => {
    const member = await store.create('User', entraUser(`${unique('m')}@example.com`));
    const group = await store.create('Group', scimGroup(unique('g')), { members: { kind: 'set', members: [member.id] } });
    await asLegacyHash(keys.doc('Group', group.id));
    await asLegacyHash(keys.doc('User', member.id));

    const read = await store.get('Group', group.id, { members: true });
    expect(read?.members).toEqual([member.id]);
    expect(read?.revision).toBe(1);

    // Deleting the member bumps the group's revision: a legacy group hash becomes a record too.
    expect(await store.delete('User', member.id)).toEqual({ revision: 2, affectedGroups: [group.id] });
    expect(await testRedis.redis.type(keys.doc('Group', group.id))).toBe('string');
    expect((await store.get('Group', group.id, { members: true }))).toMatchObject({ revision: 2, members: [] });
    expect(await store.get('User', member.id)).toBeNull();
  });
});
