import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreKeys } from '../../src/store/keys.js';
import { readRecord } from '../../src/store/record.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { StoreContentionError, type ResourceStore } from '../../src/store/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { entraUser, scimGroup, unique } from './fixtures.js';

/**
 * A script's keys include those of the members and groups in sets the client observed (see
 * src/store/script-keys.ts): first guessed empty, then as the script's `stale` answer gives
 * them. When such a set changes before the script runs, the script must notice, write nothing,
 * and the client must retry with the sets as they are, so that no membership is left half
 * removed. Here another client changes a set right before each script call.
 */

let testRedis: TestRedis;
let other: Redis;

type Send = (command: { name: string; args: unknown[]; promise: Promise<unknown> }) => unknown;

/**
 * A connection that runs `before()` (another client's change) ahead of each script call
 * (EVALSHA). ioredis sends a call again, with the same arguments, when Redis did not have the
 * script loaded yet: that is the same attempt, so `before()` does not run for it.
 */
function interleaved(before: () => Promise<void>): Redis {
  const redis = new Redis(testRedis.url);
  const target = redis as unknown as { sendCommand: Send };
  const send = target.sendCommand.bind(redis);
  const seen = new Set<string>();
  target.sendCommand = (command) => {
    const attempt = JSON.stringify(command.args);
    if (command.name !== 'evalsha' || seen.has(attempt)) return send(command);
    seen.add(attempt);
    void before().then(() => send(command));
    return command.promise;
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

async function setup(label: string, before: (keys: ReturnType<typeof createStoreKeys>) => Promise<void>) {
  const prefix = `${testRedis.prefix}-${unique(label)}`;
  const keys = createStoreKeys(prefix);
  const redis = interleaved(() => before(keys));
  const store: ResourceStore = createRedisStore(redis, { prefix });
  const plain = createRedisStore(other, { prefix });
  return { keys, redis, store, plain };
}

/** What a concurrent writer leaves when it adds `member` to `group` (both sets, as the scripts do). */
async function join(keys: ReturnType<typeof createStoreKeys>, group: string, member: string): Promise<void> {
  await other.multi().sadd(keys.members(group), member).sadd(keys.memberOf(member), group).exec();
}

describe('sets a script observes', () => {
  it('a group PUT retries when a member joined after the read: no stale reverse index is left', async () => {
    let joins = 1;
    let late = '';
    let groupId = '';
    // The first attempt learns the members from its stale answer; b joins before the second.
    let calls = 0;
    const { store, plain, redis, keys } = await setup('put', async (k) => {
      if (calls++ === 1 && joins-- > 0) await join(k, groupId, late);
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
    let calls = 0;
    const { store, plain, redis } = await setup('delete', async (k) => {
      if (calls++ === 1 && joins-- > 0) await join(k, lateGroup, userId);
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

  it('guesses the sets empty first: a user in no group is deleted, and a group created with members, in one script call each', async () => {
    const prefix = `${testRedis.prefix}-${unique('guess')}`;
    const redis = new Redis(testRedis.url);
    const sent: string[] = [];
    const target = redis as unknown as { sendCommand: Send };
    const send = target.sendCommand.bind(redis);
    target.sendCommand = (command) => {
      // A call ioredis sends again because Redis did not have the script yet counts once.
      const name = command.name === 'evalsha' ? `evalsha ${JSON.stringify(command.args)}` : command.name;
      if (!sent.includes(name)) sent.push(name);
      return send(command);
    };
    try {
      const store = createRedisStore(redis, { prefix });
      const plain = createRedisStore(other, { prefix });
      const user = await plain.create('User', entraUser(`${unique('u')}@example.com`));
      await redis.ping();
      sent.length = 0;
      await store.create('Group', scimGroup(unique('g')), { members: { kind: 'set', members: [user.id] } });
      const other2 = await plain.create('User', entraUser(`${unique('v')}@example.com`));
      await store.delete('User', other2.id);
      expect(sent.map((name) => name.split(' ')[0])).toEqual(['evalsha', 'evalsha']);
    } finally {
      redis.disconnect();
    }
  });

  it('gives up with StoreContentionError (nothing written) when the set changes before every attempt', async () => {
    let userId = '';
    let n = 0;
    const { store, plain, redis, keys } = await setup('busy', async (k) => {
      await other.sadd(k.memberOf(userId), `ghost-${n++}`);
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
