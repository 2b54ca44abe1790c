import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createTimeline, timelineKey, type ScimChangeEvent } from '../../src/ops/timeline.js';
import { commandsDuring, createTestRedis, scriptCalls } from '../helpers/redis.js';

/** The timeline store on real Redis: a bounded list per resource, plus streams left by older versions. */
const r = createTestRedis('timeline');
afterAll(() => r.cleanup());

const HOUR = 3_600_000;

function change(at: number, revision: number): ScimChangeEvent {
  return { kind: 'scim', at: new Date(at).toISOString(), op: 'patch', revision, attributes: ['displayName'] };
}

describe('timeline', () => {
  it('keeps the newest maxEntries events, oldest first, and expires the whole list', async () => {
    const timeline = createTimeline(r.redis, { prefix: `${r.prefix}:a`, maxEntries: 3, maxAgeMs: HOUR });
    for (let revision = 1; revision <= 5; revision++) await timeline.append('User', 'u1', change(Date.now(), revision));
    expect((await timeline.read('User', 'u1')).map((e) => (e as ScimChangeEvent).revision)).toEqual([3, 4, 5]);
    const key = timelineKey(`${r.prefix}:a`, 'User', 'u1');
    expect(await r.redis.type(key)).toBe('list');
    const ttl = await r.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(HOUR);
  });

  it('sends the appends of one event-loop turn as one script call under a hash-tagged prefix, in order, within the bounds', async () => {
    const timeline = createTimeline(r.redis, { prefix: `${r.prefix}:{batch}`, maxEntries: 3, maxAgeMs: HOUR });
    const calls = await commandsDuring(r.redis, async () => {
      const appends: Array<Promise<void>> = [];
      for (let revision = 1; revision <= 5; revision++) appends.push(timeline.append('User', 'same', change(Date.now(), revision)));
      for (let k = 0; k < 70; k++) appends.push(timeline.append('User', `many-${k}`, change(Date.now(), 1)));
      await Promise.all(appends);
    });
    // 75 appends, at most 64 per call: two calls.
    expect(scriptCalls(calls)).toBe(2);
    expect((await timeline.read('User', 'same')).map((e) => (e as ScimChangeEvent).revision)).toEqual([3, 4, 5]);
    expect((await timeline.read('User', 'many-69')).map((e) => (e as ScimChangeEvent).revision)).toEqual([1]);
    expect(await r.redis.pttl(timelineKey(`${r.prefix}:{batch}`, 'User', 'many-0'))).toBeGreaterThan(0);
  });

  it('fails each append of a batch that Redis refused', async () => {
    const broken = createTimeline(r.redis, { prefix: `${r.prefix}:{broken}`, maxEntries: Number.NaN, maxAgeMs: HOUR });
    const results = await Promise.allSettled([broken.append('User', 'x', change(Date.now(), 1)), broken.append('User', 'y', change(Date.now(), 1))]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  });

  it('skips events older than maxAge and unreadable entries', async () => {
    let clock = Date.now();
    const timeline = createTimeline(r.redis, { prefix: `${r.prefix}:b`, maxEntries: 10, maxAgeMs: HOUR, now: () => clock });
    await timeline.append('User', 'u2', change(clock - 2 * HOUR, 1));
    await timeline.append('User', 'u2', change(clock, 2));
    await r.redis.rpush(timelineKey(`${r.prefix}:b`, 'User', 'u2'), 'not json');
    expect((await timeline.read('User', 'u2')).map((e) => (e as ScimChangeEvent).revision)).toEqual([2]);
    clock += 2 * HOUR;
    expect(await timeline.read('User', 'u2')).toEqual([]);
  });

  it('stores positional arrays, and reads them among JSON objects of earlier versions, skipping what it cannot read', async () => {
    const prefix = `${r.prefix}:d`;
    const timeline = createTimeline(r.redis, { prefix, maxEntries: 10, maxAgeMs: HOUR });
    const key = timelineKey(prefix, 'User', 'u4');
    const older = { ...change(Date.now(), 1), requestId: 'req-1' };
    await r.redis.rpush(key, JSON.stringify(older));
    const newer: ScimChangeEvent = { ...change(Date.now(), 2), requestId: randomUUID() };
    await timeline.append('User', 'u4', newer);
    // Nothing writes these; a read skips them (`null` once threw on `.at`).
    await r.redis.rpush(key, 'null', '[2]', '[9,1]', '{"kind":"scim"}');
    const stored = await r.redis.lrange(key, 0, -1);
    expect(stored[1]).toMatch(/^\[1,\d+,2,2,4,\["[\w-]{22}"\]\]$/);
    expect(await timeline.read('User', 'u4')).toEqual([older, newer]);
  });

  it('still reads a timeline an earlier version wrote as a stream, before the new events', async () => {
    const prefix = `${r.prefix}:c`;
    const timeline = createTimeline(r.redis, { prefix, maxEntries: 10, maxAgeMs: HOUR });
    await r.redis.xadd(`${prefix}:tl:Group:g1`, '*', 'e', JSON.stringify(change(Date.now(), 1)));
    await timeline.append('Group', 'g1', change(Date.now(), 2));
    expect((await timeline.read('Group', 'g1')).map((e) => (e as ScimChangeEvent).revision)).toEqual([1, 2]);
  });
});
