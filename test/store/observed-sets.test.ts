import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreKeys } from '../../src/store/keys.js';
import { readRecord } from '../../src/store/record.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { StoreContentionError, type ResourceStore } from '../../src/store/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { entraUser, scimGroup, unique } from './fixtures.js';

/**
 * A script's keys include those of the members and groups the client read beforehand (see
 * src/store/script-keys.ts). When such a set changes between that read and the script, the
 * script must notice, write nothing, and the client must read again and retry, so that no
 * membership is left half removed. Here another client changes the set right after each read.
 */

let testRedis: TestRedis;
let other: Redis;

/** A connection whose SMEMBERS replies run `after(key)` (another client's change) first. */
function interleaved(after: (key: string) => Promise<void>): Redis {
  const redis = new Redis(testRedis.url);
  const smembers = redis.smembers.bind(redis);
  (redis as unknown as { smembers: (key: string) => Promise<string[]> }).smembers = async (key: string) => {
    const members = await smembers(key);
    await after(key);
    return members;
  };
  return redis;
}

beforeAll(() => {
  testRedis = createTestRedis('observed');
  other = new Redis(testRedis.url);
});

afterAll(async () => {
  await other.quit();
  await testRedis.cleanup();
});

async function setup(label: string, after: (keys: ReturnType<typeof createStoreKeys>, key: string) => Promise<void>) {
  const prefix = `${testRedis.prefix}-${unique(label)}`;
  const keys = createStoreKeys(prefix);
  const redis = interleaved((key) => after(keys, key));
  const store: ResourceStore = createRedisStore(redis, { prefix });
  const plain = createRedisStore(other, { prefix });
  return { keys, redis, store, plain };
}

/** What a concurrent writer leaves when it adds `member` to `group` (both sets, as the scripts do). */
async function join(keys: ReturnType<typeof createStoreKeys>, group: string, member: string): Promise<void> {
  await other.multi().sadd(keys.members(group), member).sadd(keys.memberOf(member), group).exec();
}

describe('sets read before a script', () => {
  it('a group PUT retries when a member joined after the read: no stale reverse index is left', async () => {
    let joins = 1;
    let late = '';
    let groupId = '';
    const { store, plain, redis, keys } = await setup('put', async (k, key) => {
      if (key === k.members(groupId) && joins-- > 0) await join(k, groupId, late);
    });
    try {
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => plain.create('User', entraUser(`${unique(n)}@example.com`))));
      late = b!.id;
      const group = await plain.create('Group', scimGroup(unique('g')), { members: { kind: 'set', members: [a!.id] } });
      groupId = group.id;
      await store.update('Group', group.id, null, null, { members: { kind: 'set', members: [c!.id] } });
      expect((await plain.get('Group', group.id, { members: true }))?.members).toEqual([c!.id]);
      expect(await plain.groupsOf(b!.id)).toEqual([]);
      expect(await plain.groupsOf(a!.id)).toEqual([]);
      expect((await readRecord(other, keys.doc('Group', group.id)))?.rev).toBe('2');
    } finally {
      redis.disconnect();
    }
  });

  it('a user delete retries when the user joined a group after the read: that group loses it too', async () => {
    let joins = 1;
    let userId = '';
    let lateGroup = '';
    const { store, plain, redis } = await setup('delete', async (k, key) => {
      if (key === k.memberOf(userId) && joins-- > 0) await join(k, lateGroup, userId);
    });
    try {
      const user = await plain.create('User', entraUser(`${unique('u')}@example.com`));
      userId = user.id;
      const first = await plain.create('Group', scimGroup(unique('g1')), { members: { kind: 'set', members: [user.id] } });
      const second = await plain.create('Group', scimGroup(unique('g2')));
      lateGroup = second.id;
      const deleted = await store.delete('User', user.id);
      expect(deleted?.affectedGroups).toEqual([first.id, second.id].sort());
      expect((await plain.get('Group', second.id, { members: true }))?.members).toEqual([]);
      expect((await plain.get('Group', first.id, { members: true }))?.members).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('gives up with StoreContentionError (nothing written) when the set changes before every attempt', async () => {
    let userId = '';
    let n = 0;
    const { store, plain, redis, keys } = await setup('busy', async (k, key) => {
      if (key === k.memberOf(userId)) await other.sadd(k.memberOf(userId), `ghost-${n++}`);
    });
    try {
      const user = await plain.create('User', entraUser(`${unique('u')}@example.com`));
      userId = user.id;
      await expect(store.delete('User', user.id)).rejects.toBeInstanceOf(StoreContentionError);
      expect(n).toBe(10);
      expect(await plain.get('User', user.id)).toMatchObject({ revision: 1 });
      expect(await other.zscore(keys.order('User'), user.id)).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });
});
