import { describe, expect, it } from 'vitest';
import { hashSecret, toSecretHash, verifyAny, verifySecret } from '../../src/auth/secret-hash.js';
import { createSecretCache } from '../../src/auth/secret-cache.js';
import type { SecretRecord, SecretStore } from '../../src/auth/secret-store.js';

/** The API's cache of managed secrets: bounded staleness, expiry, and a Redis outage. */

function fakeStore(records: SecretRecord[]) {
  const state = { records, reads: 0, down: false, used: [] as string[] };
  const store: Pick<SecretStore, 'records' | 'markUsed'> = {
    records: async () => {
      state.reads++;
      if (state.down) throw Object.assign(new Error('Connection is closed.'), { code: 'ECONNREFUSED' });
      return state.records;
    },
    markUsed: async (id) => void state.used.push(id),
  };
  return { state, store: store as SecretStore };
}

const record = (id: string, extra: Partial<SecretRecord> = {}): SecretRecord => ({
  id,
  kind: 'bearer',
  hash: hashSecret(id),
  createdAt: new Date(0).toISOString(),
  ...extra,
});

describe('secret cache', () => {
  it('sees a change only after ttlMs, and reads Redis once per ttlMs', async () => {
    let now = 1_000_000;
    const { state, store } = fakeStore([record('a')]);
    const cache = createSecretCache(store, { ttlMs: 5_000, now: () => now });
    expect(await cache.bearer('a')).toBeDefined();
    state.records = [];
    now += 4_999;
    expect(await cache.bearer('a')).toBeDefined();
    expect(state.reads).toBe(1);
    now += 1;
    expect(await cache.bearer('a')).toBeUndefined();
    expect(state.reads).toBe(2);
  });

  it('loads once for concurrent requests', async () => {
    const { state, store } = fakeStore([record('a')]);
    const cache = createSecretCache(store, { ttlMs: 5_000 });
    await Promise.all(Array.from({ length: 20 }, () => cache.bearer('a')));
    expect(state.reads).toBe(1);
  });

  it('checks expiry at every request, not only at load', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const { store } = fakeStore([record('a', { expiresAt: '2030-01-01T00:00:01Z' })]);
    const cache = createSecretCache(store, { ttlMs: 60_000, now: () => now });
    expect(await cache.bearer('a')).toBeDefined();
    now += 1_000;
    expect(await cache.bearer('a')).toBeUndefined();
  });

  it('keeps the last list while Redis is down, and fails without one', async () => {
    let now = 0;
    const { state, store } = fakeStore([record('a')]);
    const cache = createSecretCache(store, { ttlMs: 10, now: () => now });
    expect(await cache.bearer('a')).toBeDefined();
    state.down = true;
    now += 100;
    expect(await cache.bearer('a')).toBeDefined();
    const cold = createSecretCache(store, { ttlMs: 10 });
    await expect(cold.bearer('a')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('groups client secrets by client id and writes last-used at most once a minute', async () => {
    let now = 0;
    const { state, store } = fakeStore([record('s1', { kind: 'client', clientId: 'c' }), record('s2', { kind: 'client', clientId: 'c' })]);
    const cache = createSecretCache(store, { ttlMs: 10, now: () => now });
    expect((await cache.client('c')).map((r) => r.id)).toEqual(['s1', 's2']);
    expect(await cache.client('other')).toEqual([]);
    cache.markUsed('s1');
    cache.markUsed('s1');
    now += 60_000;
    cache.markUsed('s1');
    await Promise.resolve();
    expect(state.used).toEqual(['s1', 's1']);
  });
});

describe('secret hashes', () => {
  it('verifies against sha256: hashes, in any letter case, and takes a hash as it is', () => {
    const hash = hashSecret('s3cret');
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(verifySecret('s3cret', hash)).toBe(true);
    expect(verifySecret('s3cret!', hash)).toBe(false);
    expect(toSecretHash(hash.toUpperCase())).toBe(hash);
    expect(toSecretHash('s3cret')).toBe(hash);
    expect(verifyAny('s3cret', [hashSecret('x'), hash])).toBe(true);
    expect(verifyAny('s3cret', [])).toBe(false);
  });
});
