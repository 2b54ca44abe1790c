import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLister } from '../../src/provisioning/list.js';
import { ScimError } from '../../src/scim/errors.js';
import { BUILT_IN_SCHEMAS } from '../../src/scim/schema-registry.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import type { ResourceStore } from '../../src/store/types.js';
import { createTestRedis, type TestRedis } from '../helpers/redis.js';
import { entraUser } from '../store/fixtures.js';

/**
 * The query planner on real Redis: an indexed filter costs two store calls whatever the size of
 * the connection, and a query that would need a scan beyond the cap is refused with tooMany
 * instead of reading the whole connection.
 */

let testRedis: TestRedis;
let store: ResourceStore;
const calls: string[] = [];

beforeAll(async () => {
  testRedis = createTestRedis('list');
  const real = createRedisStore(testRedis.redis, { prefix: testRedis.prefix });
  // Records the store calls a query makes (each is one Redis round trip).
  store = new Proxy(real, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  for (let i = 0; i < 6; i++) await real.create('User', entraUser(`list-${i}@example.com`, { title: i % 2 === 0 ? 'Even' : 'Odd' }));
});
afterAll(async () => {
  await testRedis?.cleanup();
});

describe('createLister', () => {
  it('answers userName eq with one index lookup and one read', async () => {
    const list = createLister(store, BUILT_IN_SCHEMAS, { maxScan: 5 });
    calls.length = 0;
    const result = await list('User', { filter: 'userName eq "LIST-3@example.com"', withMembers: false });
    expect(result.resources.map((r) => r.doc.userName)).toEqual(['list-3@example.com']);
    expect(calls).toEqual(['findBy', 'getMany']);
  });

  it('scans in pages when the connection is within the cap, and sorts the matches', async () => {
    const list = createLister(store, BUILT_IN_SCHEMAS, { maxScan: 6 });
    const result = await list('User', { filter: 'title eq "odd"', sortBy: 'userName', sortOrder: 'descending', withMembers: false });
    expect(result.total).toBe(3);
    expect(result.resources.map((r) => r.doc.userName)).toEqual(['list-5@example.com', 'list-3@example.com', 'list-1@example.com']);
  });

  it('refuses a filter or sort that needs a scan beyond the cap with 400 tooMany, before reading documents', async () => {
    const list = createLister(store, BUILT_IN_SCHEMAS, { maxScan: 5 });
    for (const query of [{ filter: 'title eq "Odd"' }, { sortBy: 'userName' }, { filter: 'userName co "list"' }]) {
      calls.length = 0;
      const error: unknown = await list('User', { ...query, withMembers: false }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ScimError);
      expect(error).toMatchObject({ status: 400, scimType: 'tooMany' });
      expect(calls).toEqual(['count']);
    }
  });
});
