import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreKeys } from '../../src/store/keys.js';
import { createTimeline, type ScimChangeEvent } from '../../src/ops/timeline.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import {
  NotFoundError,
  REVISION_ASSIGNED_BY_STORE,
  REVISION_SLOT,
  RevisionConflictError,
  UniquenessError,
  type ResourceStore,
  type WriteOptions,
} from '../../src/store/types.js';
import { createTestRedis } from '../helpers/redis.js';
import { entraUser, scimGroup, unique } from './fixtures.js';

/** ioredis 6 speaks RESP3 by default; the store must read the same under every reply shape. */
const connections: { name: string; options: RedisOptions; compressDocuments?: boolean }[] = [
  { name: 'RESP3 (default)', options: {} },
  { name: 'RESP2', options: { protocol: 2 } },
  { name: 'RESP3 with resp3 reply mapping', options: { replyMapping: 'resp3' } },
  { name: 'RESP3, plain JSON documents', options: {}, compressDocuments: false },
];

describe.each(connections)('redis store over $name', ({ options, compressDocuments }) => {
  const testRedis = createTestRedis('store');
  let redis: Redis;
  let store: ResourceStore;

  /** A store of its own, for tests that count or list everything in it. */
  function freshStore(label: string): ResourceStore {
    return createRedisStore(redis, { prefix: `${testRedis.prefix}-${unique(label)}`, compressDocuments });
  }

  async function createUsers(target: ResourceStore, n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await target.create('User', entraUser(`${unique('u')}@example.com`))).id);
    return ids;
  }

  beforeAll(() => {
    redis = new Redis(testRedis.url, options);
    store = createRedisStore(redis, { prefix: testRedis.prefix, compressDocuments });
  });

  afterAll(async () => {
    await redis.quit();
    await testRedis.cleanup();
  });

  describe('create and read', () => {
    it('stores a user at revision 1 and returns the document exactly as given', async () => {
      const doc = entraUser(`${unique('ada')}@example.com`, { title: 'Ünïcødé ✓', nested: { list: [1, null, 'x'] } });
      const created = await store.create('User', doc);
      expect(created).toEqual({ type: 'User', id: doc.id, revision: 1, doc });
      expect(await store.get('User', doc.id)).toEqual({ type: 'User', id: doc.id, revision: 1, doc });
      expect(await store.get('User', 'missing')).toBeNull();
      expect(await store.get('Group', doc.id)).toBeNull();
    });

    it('keeps every key under the prefix, in the layout keys.ts describes', async () => {
      const target = freshStore('layout');
      const user = await target.create('User', entraUser(`${unique('k')}@example.com`, { emails: [{ value: `${unique('other')}@example.com` }] }));
      const group = await target.create('Group', scimGroup(unique('g')), {
        members: { kind: 'set', members: [user.id] },
      });
      const prefix = (await redis.keys(`${testRedis.prefix}-layout-*:User:order`))[0]?.replace(/:User:order$/, '');
      expect(prefix).toBeDefined();
      const keys = createStoreKeys(prefix as string);
      const expected = [
        keys.doc('User', user.id),
        keys.doc('Group', group.id),
        keys.order('User'),
        keys.seq('User'),
        keys.index('User', 'userName'),
        keys.index('User', 'email'),
        keys.index('Group', 'displayName'),
        keys.members(group.id),
        keys.memberOf(user.id),
      ];
      const actual = await redis.keys(keys.pattern);
      expect(actual).toEqual(expect.arrayContaining(expected));
      expect(actual.every((key) => key.startsWith(`${prefix}:`))).toBe(true);
    });

    it('reads documents written with compression on or off', async () => {
      const plain = createRedisStore(redis, { prefix: testRedis.prefix, compressDocuments: false });
      const compressed = createRedisStore(redis, { prefix: testRedis.prefix, compressDocuments: true });
      const a = await plain.create('User', entraUser(`${unique('plain')}@example.com`));
      const b = await compressed.create('User', entraUser(`${unique('zipped')}@example.com`));
      expect(await compressed.getMany('User', [a.id, b.id])).toEqual([a, b]);
      expect(await plain.getMany('User', [a.id, b.id])).toEqual([a, b]);
    });

    it('refuses an id that is already taken', async () => {
      const doc = entraUser(`${unique('dup')}@example.com`);
      await store.create('User', doc);
      await expect(store.create('User', { ...doc, userName: `${unique('other')}@example.com` })).rejects.toThrow(
        /already exists/,
      );
    });

    it('getMany keeps the input order, skips missing ids and sorts members', async () => {
      const [a, b] = await createUsers(store, 2);
      const group = await store.create('Group', scimGroup(unique('many')), {
        members: { kind: 'set', members: [b as string, a as string] },
      });
      const users = await store.getMany('User', [b as string, 'missing', a as string]);
      expect(users.map((user) => user.id)).toEqual([b, a]);
      expect(users[0]?.members).toBeUndefined();
      const [loaded] = await store.getMany('Group', [group.id], { members: true });
      expect(loaded?.members).toEqual([a, b].sort());
      expect((await store.get('Group', group.id, { members: true }))?.members).toEqual([a, b].sort());
    });

    it('revisions answers id and revision of live resources in the input order, without tombstones', async () => {
      const [a, b, c] = await createUsers(store, 3);
      const updated = await store.update('User', b as string, 1, { ...(await store.get('User', b as string))!.doc, displayName: 'B2' });
      await store.delete('User', c as string);
      expect(await store.revisions('User', [c as string, b as string, 'missing', a as string])).toEqual([
        { id: b, revision: updated.revision },
        { id: a, revision: 1 },
      ]);
      expect(await store.revisions('Group', [a as string])).toEqual([]);
      expect(await store.revisions('User', [])).toEqual([]);
    });
  });

  describe('indexes', () => {
    it('finds every user with an email, whether it is their userName or another user\'s', async () => {
      const shared = `${unique('shared')}@example.com`;
      const owner = entraUser(shared, { emails: [{ value: shared }] });
      const other = entraUser(`${unique('other')}@example.com`, { emails: [{ value: shared.toUpperCase() }] });
      const plain = entraUser(shared.replace('shared', 'plain'), { emails: [{ value: `${unique('x')}@example.com` }] });
      for (const doc of [owner, other, plain]) await store.create('User', doc);
      expect((await store.findBy('User', 'email', shared)).sort()).toEqual([owner.id, other.id].sort());
      // A userName alone is a candidate only; list filters check the document's emails.
      expect(await store.findBy('User', 'email', plain.userName as string)).toEqual([plain.id]);
    });

    it('finds users by userName, email and displayName case-insensitively, externalId exactly', async () => {
      const name = unique('Élodie');
      const doc = entraUser(`${name}@Contoso.com`, {
        externalId: `Ext-${name}`,
        displayName: `Élodie ${name}`,
        emails: [{ value: `${name}@Contoso.com` }, { value: `${name}.Private@Mail.example` }],
      });
      await store.create('User', doc);
      expect(await store.findBy('User', 'userName', `${name.toUpperCase()}@CONTOSO.COM`)).toEqual([doc.id]);
      expect(await store.findBy('User', 'userName', `${name.normalize('NFD')}@contoso.com`)).toEqual([doc.id]);
      expect(await store.findBy('User', 'email', `${name}.private@mail.EXAMPLE`)).toEqual([doc.id]);
      // The email equal to the userName is found through the userName index.
      expect(await store.findBy('User', 'email', `${name}@contoso.COM`)).toEqual([doc.id]);
      expect(await store.findBy('User', 'displayName', `élodie ${name}`.toUpperCase())).toEqual([doc.id]);
      expect(await store.findBy('User', 'externalId', `Ext-${name}`)).toEqual([doc.id]);
      expect(await store.findBy('User', 'externalId', `ext-${name}`)).toEqual([]);
      expect(await store.findBy('User', 'userName', 'nobody@example.com')).toEqual([]);
    });

    it('returns every id sharing a non-unique value', async () => {
      const externalId = unique('shared');
      const a = await store.create('User', entraUser(`${unique('a')}@example.com`, { externalId, displayName: externalId }));
      const b = await store.create('User', entraUser(`${unique('b')}@example.com`, { externalId, displayName: externalId }));
      expect((await store.findBy('User', 'externalId', externalId)).sort()).toEqual([a.id, b.id].sort());
      expect((await store.findBy('User', 'displayName', externalId)).sort()).toEqual([a.id, b.id].sort());
      await store.delete('User', a.id);
      expect(await store.findBy('User', 'externalId', externalId)).toEqual([b.id]);
    });

    it('finds groups by displayName case-insensitively and by externalId', async () => {
      const name = unique('Sales Team');
      const group = await store.create('Group', scimGroup(name, { externalId: `x-${name}` }));
      expect(await store.findBy('Group', 'displayName', name.toUpperCase())).toEqual([group.id]);
      expect(await store.findBy('Group', 'externalId', `x-${name}`)).toEqual([group.id]);
      expect(await store.findBy('Group', 'email', name)).toEqual([]);
    });

    it('keeps indexes exact on update: old values gone, new values found', async () => {
      const before = entraUser(`${unique('old')}@example.com`, { externalId: unique('ext-old') });
      const created = await store.create('User', before);
      const after = {
        ...before,
        userName: `${unique('new')}@example.com`,
        externalId: unique('ext-new'),
        emails: [{ value: 'renamed@example.com' }],
      };
      await store.update('User', before.id, created.revision, after);
      expect(await store.findBy('User', 'userName', before.userName as string)).toEqual([]);
      expect(await store.findBy('User', 'externalId', before.externalId as string)).toEqual([]);
      expect(await store.findBy('User', 'email', before.userName as string)).toEqual([]);
      expect(await store.findBy('User', 'userName', after.userName)).toEqual([before.id]);
      expect(await store.findBy('User', 'externalId', after.externalId)).toEqual([before.id]);
      expect(await store.findBy('User', 'email', 'RENAMED@example.com')).toContain(before.id);
    });
  });

  describe('uniqueness', () => {
    it('rejects a second user with the same userName in another case and changes nothing', async () => {
      const target = freshStore('uniq');
      const first = await target.create('User', entraUser('Ada@Example.com'));
      const second = entraUser('ada@EXAMPLE.com', { externalId: 'second-ext' });
      const error = await target.create('User', second).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UniquenessError);
      expect((error as UniquenessError).attribute).toBe('userName');
      expect(await target.get('User', second.id)).toBeNull();
      expect(await target.count('User')).toBe(1);
      expect(await target.findBy('User', 'externalId', 'second-ext')).toEqual([]);
      expect(await target.findBy('User', 'userName', 'ADA@example.com')).toEqual([first.id]);
    });

    it('rejects a rename onto a taken userName but allows renaming to your own name in another case', async () => {
      const a = await store.create('User', entraUser(`${unique('a')}@example.com`));
      const b = await store.create('User', entraUser(`${unique('b')}@example.com`));
      await expect(
        store.update('User', b.id, b.revision, { ...b.doc, userName: (a.doc.userName as string).toUpperCase() }),
      ).rejects.toMatchObject({ name: 'UniquenessError', attribute: 'userName' });
      expect((await store.get('User', b.id))?.revision).toBe(1);

      const upper = (a.doc.userName as string).toUpperCase();
      const renamed = await store.update('User', a.id, a.revision, { ...a.doc, userName: upper });
      expect(renamed.revision).toBe(2);
      expect((await store.get('User', a.id))?.doc.userName).toBe(upper);
      expect(await store.findBy('User', 'userName', upper.toLowerCase())).toEqual([a.id]);
    });

    it('makes group displayName unique case-insensitively', async () => {
      const name = unique('Admins');
      await store.create('Group', scimGroup(name));
      await expect(store.create('Group', scimGroup(name.toLowerCase()))).rejects.toMatchObject({
        name: 'UniquenessError',
        attribute: 'displayName',
      });
    });
  });

  describe('revisions', () => {
    it('replaces the document when the expected revision is current and refuses a stale one', async () => {
      const created = await store.create('User', entraUser(`${unique('cas')}@example.com`));
      const updated = await store.update('User', created.id, 1, { ...created.doc, title: 'first' });
      expect(updated.revision).toBe(2);
      await expect(store.update('User', created.id, 1, { ...created.doc, title: 'stale' })).rejects.toBeInstanceOf(
        RevisionConflictError,
      );
      expect((await store.get('User', created.id))?.doc.title).toBe('first');
      const unconditional = await store.update('User', created.id, null, { ...created.doc, title: 'last' });
      expect(unconditional.revision).toBe(3);
    });

    it('throws NotFoundError for unknown and deleted resources', async () => {
      const user = await store.create('User', entraUser(`${unique('gone')}@example.com`));
      await expect(store.update('User', 'missing', 1, { ...user.doc, id: 'missing' })).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await store.delete('User', user.id);
      await expect(store.update('User', user.id, null, user.doc)).rejects.toBeInstanceOf(NotFoundError);
    });
  });

  describe('membership', () => {
    it('keeps all 50 concurrent member adds and bumps the revision once per write', async () => {
      const members = await createUsers(store, 50);
      const group = await store.create('Group', scimGroup(unique('concurrent')));
      await Promise.all(
        members.map((id) => store.update('Group', group.id, null, null, { members: { kind: 'delta', add: [id], remove: [] } })),
      );
      const loaded = await store.get('Group', group.id, { members: true });
      expect(loaded?.members).toEqual([...members].sort());
      expect(loaded?.revision).toBe(group.revision + 50);
      for (const id of members) expect(await store.groupsOf(id)).toEqual([group.id]);
    });

    it('returns the stored document on a membership-only update', async () => {
      const [member] = await createUsers(store, 1);
      const group = await store.create('Group', scimGroup(unique('only-members')));
      const change: WriteOptions = { members: { kind: 'delta', add: [member as string], remove: [] } };
      await expect(store.update('Group', group.id, 5, null, change)).rejects.toBeInstanceOf(RevisionConflictError);
      const updated = await store.update('Group', group.id, null, null, change);
      expect(updated).toEqual({ type: 'Group', id: group.id, revision: 2, doc: group.doc });
      expect(await store.isMember(group.id, member as string)).toBe(true);
    });

    it('replaces the whole member set and fixes the reverse index', async () => {
      const [a, b, c] = (await createUsers(store, 3)) as [string, string, string];
      const group = await store.create('Group', scimGroup(unique('set')), { members: { kind: 'set', members: [a, b] } });
      await store.update('Group', group.id, group.revision, { ...group.doc, displayName: unique('renamed') }, {
        members: { kind: 'set', members: [b, c] },
      });
      expect((await store.get('Group', group.id, { members: true }))?.members).toEqual([b, c].sort());
      expect(await store.groupsOf(a)).toEqual([]);
      expect(await store.groupsOf(c)).toEqual([group.id]);
      expect(await store.isMember(group.id, a)).toBe(false);
    });

    it('applies removals, and ignores ids that are not live resources', async () => {
      const [a, b] = (await createUsers(store, 2)) as [string, string];
      const group = await store.create('Group', scimGroup(unique('delta')), {
        members: { kind: 'delta', add: [a, b, 'no-such-user'], remove: [] },
      });
      expect((await store.get('Group', group.id, { members: true }))?.members).toEqual([a, b].sort());
      await store.update('Group', group.id, null, null, { members: { kind: 'delta', add: [], remove: [a] } });
      expect((await store.get('Group', group.id, { members: true }))?.members).toEqual([b]);
      expect(await store.groupsOf('no-such-user')).toEqual([]);
    });

    it('refuses members on users', async () => {
      await expect(
        store.create('User', entraUser(`${unique('m')}@example.com`), { members: { kind: 'set', members: [] } }),
      ).rejects.toBeInstanceOf(TypeError);
    });
  });

  describe('delete', () => {
    it('removes a user from every read path and group, and keeps a tombstone for delivery', async () => {
      const user = await store.create('User', entraUser(`${unique('leaver')}@example.com`));
      const g1 = await store.create('Group', scimGroup(unique('g1')), { members: { kind: 'set', members: [user.id] } });
      const g2 = await store.create('Group', scimGroup(unique('g2')), { members: { kind: 'set', members: [user.id] } });
      const deleted = await store.delete('User', user.id);
      expect(deleted).toEqual({ revision: 2, affectedGroups: [g1.id, g2.id].sort() });

      expect(await store.get('User', user.id)).toBeNull();
      expect(await store.getMany('User', [user.id])).toEqual([]);
      expect(await store.findBy('User', 'userName', user.doc.userName as string)).toEqual([]);
      expect(await store.findBy('User', 'email', user.doc.userName as string)).toEqual([]);
      expect(await store.groupsOf(user.id)).toEqual([]);
      for (const group of [g1, g2]) {
        const after = await store.get('Group', group.id, { members: true });
        expect(after?.members).toEqual([]);
        expect(after?.revision).toBe(group.revision + 1);
      }
      expect(await store.getForDelivery('User', user.id)).toEqual({ ...user, revision: 2, deleted: true });
      expect(await store.delete('User', user.id)).toBeNull();
      expect(await store.delete('User', 'missing')).toBeNull();
    });

    it('appends its timeline event in its own script, with the revision it assigns', async () => {
      const prefix = `${testRedis.prefix}-${unique('tl')}`;
      const own = createRedisStore(redis, { prefix, compressDocuments });
      const timeline = createTimeline(redis, { prefix, maxEntries: 10, maxAgeMs: 60_000 });
      const user = await own.create('User', entraUser(`${unique('gone')}@example.com`));
      await own.update('User', user.id, 1, { ...user.doc, displayName: 'Renamed' });
      const event: ScimChangeEvent = { kind: 'scim', at: new Date().toISOString(), op: 'delete', revision: REVISION_ASSIGNED_BY_STORE, attributes: [] };
      const history = timeline.entry('User', user.id, event);
      expect(history.entry).toContain(REVISION_SLOT);
      expect(await own.delete('User', user.id, undefined, undefined, history)).toEqual({ revision: 3, affectedGroups: [] });
      expect(await timeline.read('User', user.id)).toEqual([{ ...event, revision: 3 }]);
      // No write, no event.
      expect(await own.delete('User', user.id, undefined, undefined, history)).toBeNull();
      expect(await redis.llen(history.key)).toBe(1);
    });

    it('a membership-only update appends its timeline event with the revision its script assigns', async () => {
      const prefix = `${testRedis.prefix}-${unique('tlm')}`;
      const own = createRedisStore(redis, { prefix, compressDocuments });
      const timeline = createTimeline(redis, { prefix, maxEntries: 10, maxAgeMs: 60_000 });
      const member = await own.create('User', entraUser(`${unique('member')}@example.com`));
      const group = await own.create('Group', scimGroup(unique('tlgroup')));
      const event: ScimChangeEvent = { kind: 'scim', at: new Date().toISOString(), op: 'patch', revision: REVISION_ASSIGNED_BY_STORE, attributes: ['members'] };
      const history = timeline.entry('Group', group.id, event);
      const updated = await own.update('Group', group.id, null, null, { members: { kind: 'delta', add: [member.id], remove: [] }, history });
      expect(updated.revision).toBe(2);
      expect(await timeline.read('Group', group.id)).toEqual([{ ...event, revision: 2 }]);
    });

    it('lets a new user take the userName of a deleted one', async () => {
      const userName = `${unique('again')}@example.com`;
      const old = await store.create('User', entraUser(userName));
      await store.delete('User', old.id);
      const again = await store.create('User', entraUser(userName.toUpperCase()));
      expect(again.revision).toBe(1);
      expect(await store.findBy('User', 'userName', userName)).toEqual([again.id]);
    });

    it('takes a deleted group out of its members reverse index and out of its parent groups', async () => {
      const [member] = (await createUsers(store, 1)) as [string];
      const child = await store.create('Group', scimGroup(unique('child')), { members: { kind: 'set', members: [member] } });
      const parent = await store.create('Group', scimGroup(unique('parent')), {
        members: { kind: 'set', members: [child.id] },
      });
      const deleted = await store.delete('Group', child.id);
      expect(deleted).toEqual({ revision: 2, affectedGroups: [parent.id] });
      expect(await store.groupsOf(member)).toEqual([]);
      expect(await store.isMember(parent.id, child.id)).toBe(false);
      expect(await store.findBy('Group', 'displayName', child.doc.displayName as string)).toEqual([]);
      expect(await store.getForDelivery('Group', child.id)).toEqual({ ...child, revision: 2, members: [], deleted: true });
    });
  });

  describe('delivery side', () => {
    it('returns the live resource with members for delivery', async () => {
      const [member] = (await createUsers(store, 1)) as [string];
      const group = await store.create('Group', scimGroup(unique('live')), { members: { kind: 'set', members: [member] } });
      expect(await store.getForDelivery('Group', group.id)).toEqual({ ...group, members: [member], deleted: false });
      expect(await store.getForDelivery('Group', 'missing')).toBeNull();
    });

    it('stores delivery state and delivered members, and purge forgets them with the tombstone', async () => {
      const group = await store.create('Group', scimGroup(unique('purge')));
      expect(await store.getDeliveryState('Group', group.id)).toBeNull();
      await store.setDeliveryState('Group', group.id, { targetId: 't-1', revision: 1, bodyHash: 'abc' });
      expect(await store.getDeliveryState('Group', group.id)).toEqual({ targetId: 't-1', revision: 1, bodyHash: 'abc' });

      await store.setDeliveredMember(group.id, 'm1', 'target-m1');
      await store.setDeliveredMember(group.id, 'm2', 'target-m2');
      await store.setDeliveredMember(group.id, 'm1', null);
      expect(await store.getDeliveredMembers(group.id)).toEqual(new Map([['m2', 'target-m2']]));
      // A chunk of members (addMembers / removeMembers) in one step.
      await store.setDeliveredMembers(group.id, [
        { id: 'm3', targetId: 'target-m3' },
        { id: 'm4', targetId: 'target-m4' },
        { id: 'm2', targetId: null },
      ]);
      await store.setDeliveredMembers(group.id, []);
      expect(await store.getDeliveredMembers(group.id)).toEqual(new Map([['m3', 'target-m3'], ['m4', 'target-m4']]));

      await store.purge('Group', group.id);
      expect(await store.getDeliveryState('Group', group.id)).toEqual({ targetId: 't-1', revision: 1, bodyHash: 'abc' });

      await store.delete('Group', group.id);
      expect(await store.getDeliveryState('Group', group.id)).not.toBeNull();
      await store.purge('Group', group.id);
      expect(await store.getForDelivery('Group', group.id)).toBeNull();
      expect(await store.getDeliveryState('Group', group.id)).toBeNull();
      expect(await store.getDeliveredMembers(group.id)).toEqual(new Map());

      await store.setDeliveryState('Group', group.id, { revision: 3 });
      expect(await store.getDeliveryState('Group', group.id)).toBeNull();
    });
  });

  describe('listing', () => {
    it('pages in creation order and counts live resources only', async () => {
      const target = freshStore('list');
      const ids = await createUsers(target, 5);
      expect(await target.count('User')).toBe(5);
      expect(await target.list('User', 1, 2)).toEqual({ total: 5, ids: ids.slice(0, 2) });
      expect(await target.list('User', 3, 2)).toEqual({ total: 5, ids: ids.slice(2, 4) });
      expect(await target.list('User', 5, 10)).toEqual({ total: 5, ids: ids.slice(4) });
      expect(await target.list('User', 9, 10)).toEqual({ total: 5, ids: [] });
      expect(await target.list('User', 1, 0)).toEqual({ total: 5, ids: [] });
      await target.delete('User', ids[1] as string);
      expect(await target.list('User', 1, 10)).toEqual({ total: 4, ids: [ids[0], ...ids.slice(2)] });
      expect(await target.count('Group')).toBe(0);
    });
  });

  describe('isolation', () => {
    it('keeps two prefixes apart, even when one is a prefix of the other', async () => {
      const base = `${testRedis.prefix}-${unique('iso')}`;
      const acme = createRedisStore(redis, { prefix: base });
      const acme2 = createRedisStore(redis, { prefix: `${base}2` });
      const doc = entraUser('same@example.com');
      await acme.create('User', doc);
      await acme2.create('User', doc);
      expect(await acme2.findBy('User', 'userName', 'same@example.com')).toEqual([doc.id]);

      await acme.delete('User', doc.id);
      expect(await acme.get('User', doc.id)).toBeNull();
      expect(await acme2.get('User', doc.id)).not.toBeNull();

      await acme.clear();
      expect(await redis.keys(`${base}:*`)).toEqual([]);
      expect(await acme2.count('User')).toBe(1);
      await acme2.clear();
      expect(await redis.keys(`${base}2:*`)).toEqual([]);
    });
  });

  describe('flat cost', () => {
    /**
     * Records the commands the store sends, to show by construction that reads are key lookups
     * (never SCAN/KEYS) and that their number does not depend on how many resources are stored.
     */
    async function readCommands(target: ResourceStore, probe: { userId: string; groupId: string }): Promise<string[]> {
      const sent: string[] = [];
      const original = redis.sendCommand.bind(redis);
      redis.sendCommand = (command, stream) => {
        sent.push(command.name.toLowerCase());
        return original(command, stream);
      };
      try {
        await target.findBy('User', 'userName', 'probe@example.com');
        await target.findBy('User', 'email', 'probe@example.com');
        await target.findBy('User', 'externalId', 'probe');
        await target.findBy('Group', 'displayName', 'probe');
        await target.get('User', probe.userId);
        await target.get('Group', probe.groupId, { members: true });
        await target.list('User', 1, 10);
        await target.count('User');
      } finally {
        redis.sendCommand = original;
      }
      return sent;
    }

    it('sends the same key-addressed commands for 2 and 102 stored users', async () => {
      const target = freshStore('flat');
      const [userId] = (await createUsers(target, 2)) as [string];
      const group = await target.create('Group', scimGroup('probe'), { members: { kind: 'set', members: [userId] } });
      const small = await readCommands(target, { userId, groupId: group.id });
      await createUsers(target, 100);
      const large = await readCommands(target, { userId, groupId: group.id });
      expect(large).toEqual(small);
      const keyLookups = ['get', 'hget', 'hmget', 'hgetall', 'smembers', 'zcard', 'zrange', 'multi', 'exec'];
      expect(small.length).toBeGreaterThan(0);
      expect(small.filter((name) => !keyLookups.includes(name))).toEqual([]);
    });
  });
});

describe('redis store without Redis', () => {
  it('lets the client error through unchanged, for the HTTP layer to answer 503', async () => {
    const offline = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false });
    const store = createRedisStore(offline, { prefix: 'sbtest-offline' });
    await expect(store.get('User', 'x')).rejects.toThrow(/enableOfflineQueue/);
    await expect(store.create('User', entraUser('offline@example.com'))).rejects.toThrow(/enableOfflineQueue/);
    offline.disconnect();
  });
});
