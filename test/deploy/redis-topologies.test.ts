import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient, parseRedisUrl, scanEach } from '../../src/lib/redis-connection.js';
import { eventually, startBridgeFixture, type BridgeFixture } from '../helpers/bridge.js';
import { startRedisCluster, startRedisSentinel, type Topology } from '../helpers/redis-topologies.js';

/**
 * The bridge on a three-master Redis Cluster and behind a Sentinel, each started on loopback
 * from the machine's redis-server: Entra's usual sequence must work end to end, with each
 * multi-key script's keys (a connection's store, the queues) in one hash slot.
 */

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('parseRedisUrl', () => {
  it('reads standalone, Cluster and Sentinel URLs with credentials and TLS', () => {
    expect(parseRedisUrl('redis://:pw@cache:6380/2')).toMatchObject({ kind: 'standalone', nodes: [{ host: 'cache', port: 6380 }], password: 'pw', db: 2, tls: false });
    expect(parseRedisUrl('rediss+cluster://u:p%40ss@a:7000,b:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
      username: 'u',
      password: 'p@ss',
      tls: true,
    });
    expect(parseRedisUrl('redis+sentinel://s1:26379,s2/mymaster')).toEqual({
      kind: 'sentinel',
      nodes: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 6379 },
      ],
      masterName: 'mymaster',
      tls: false,
    });
    expect(() => parseRedisUrl('redis+sentinel://s1:26379')).toThrow(/master name/);
    expect(() => parseRedisUrl('http://x')).toThrow(/redis:\/\//);
  });
});

/**
 * Entra's sequence in short: probe, create, groups with members (added, removed, replaced by
 * PUT), PATCH, deactivate, and deletes of a user that is no member and of one that is.
 */
async function provisionAndCheck(fixture: BridgeFixture): Promise<void> {
  const userIds: string[] = [];
  for (const n of [1, 2, 3, 4, 5]) {
    const userName = `topo${n}@example.com`;
    const probe = await fixture.scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`);
    expect(probe.body.totalResults).toBe(0);
    const created = await fixture.scim('POST', '/Users', {
      schemas: [CORE_USER],
      userName,
      active: true,
      name: { givenName: 'Topo', familyName: `Logy${n}` },
      emails: [{ type: 'work', primary: true, value: userName }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    userIds.push(created.body.id);
  }
  const [u1, u2, u3, u4, u5] = userIds as [string, string, string, string, string];
  const group = await fixture.scim('POST', '/Groups', { schemas: [CORE_GROUP], displayName: 'Topologists' });
  expect(group.status).toBe(201);
  const members = await fixture.scim('PATCH', `/Groups/${group.body.id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Add', path: 'members', value: [u1, u2, u3].map((value) => ({ value })) }],
  });
  expect(members.status).toBe(204);
  const check = await fixture.scim('GET', `/Groups/${group.body.id}?excludedAttributes=members&filter=${encodeURIComponent(`members[value eq "${u1}"]`)}`);
  expect(check.status).toBe(200);
  const removed = await fixture.scim('PATCH', `/Groups/${group.body.id}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Remove', path: `members[value eq "${u3}"]` }],
  });
  expect(removed.status).toBe(204);
  // A PUT replaces the member set: the script drops the members it found in the group.
  const replaced = await fixture.scim('POST', '/Groups', { schemas: [CORE_GROUP], displayName: 'Replaced', members: [{ value: u2 }, { value: u4 }] });
  expect(replaced.status).toBe(201);
  const put = await fixture.scim('PUT', `/Groups/${replaced.body.id}`, { schemas: [CORE_GROUP], displayName: 'Replaced', members: [{ value: u4 }] });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  const patched = await fixture.scim('PATCH', `/Users/${u4}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  });
  expect(patched.status).toBe(200);
  expect((await fixture.scim('DELETE', `/Users/${u5}`)).status).toBe(204);
  // A member's delete: the script takes it out of each group it found the user in.
  expect((await fixture.scim('DELETE', `/Users/${u1}`)).status).toBe(204);
  const memberIds = async (id: string) => ((await fixture.scim('GET', `/Groups/${id}`)).body.members ?? []).map((m: { value: string }) => m.value).sort();
  expect(await memberIds(group.body.id)).toEqual([u2]);
  expect(await memberIds(replaced.body.id)).toEqual([u4]);

  const converged = await eventually(
    async () => {
      const accounts = ((await fixture.legacy.get('/api/v1/accounts')) as { data: Array<{ login: string; status: string }> }).data;
      const teams = ((await fixture.legacy.get('/api/v1/teams')) as { data: Array<{ name: string; members: string[] }> }).data;
      return (
        accounts.length === 3 &&
        accounts.find((a) => a.login === 'topo4@example.com')?.status === 'DISABLED' &&
        teams.length === 2 &&
        teams.every((team) => team.members.length === 1)
      );
    },
    { timeoutMs: 30_000 },
  );
  expect(converged, JSON.stringify([await fixture.legacy.get('/api/v1/accounts'), await fixture.legacy.get('/api/v1/teams')])).toBe(true);
}

describe('on a three-master Redis Cluster', () => {
  let cluster: Topology;
  let fixture: BridgeFixture;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    fixture = await startBridgeFixture('cluster', { redisUrl: cluster.url });
  }, 60_000);

  afterAll(async () => {
    await fixture?.close();
    await cluster?.stop();
  });

  it('serves Entra and delivers to the target', async () => {
    await provisionAndCheck(fixture);
  }, 60_000);

  it('keeps the store keys of a connection in one hash slot, and the queue keys in one', async () => {
    const client = createRedisClient(cluster.url);
    const slotsOf = async (pattern: string) => {
      const slots = new Set<number>();
      let keys = 0;
      await scanEach(client, pattern, async (node, found) => {
        for (const key of found) slots.add(Number(await node.call('CLUSTER', 'KEYSLOT', key)));
        keys += found.length;
      });
      return { keys, slots: [...slots] };
    };
    try {
      const { prefix } = fixture.config.redis;
      const store = await slotsOf(`${prefix}:c:*`);
      const queue = await slotsOf(`${prefix}:{bull}:*`);
      expect(store.keys).toBeGreaterThan(10);
      expect(store.slots).toHaveLength(1);
      expect(queue.keys).toBeGreaterThan(3);
      expect(queue.slots).toHaveLength(1);
    } finally {
      client.disconnect();
    }
  });
});

describe('behind a Redis Sentinel', () => {
  let sentinel: Topology;
  let fixture: BridgeFixture;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    fixture = await startBridgeFixture('sentinel', { redisUrl: sentinel.url });
  }, 60_000);

  afterAll(async () => {
    await fixture?.close();
    await sentinel?.stop();
  });

  it('finds the master through the Sentinel, serves Entra and delivers to the target', async () => {
    await provisionAndCheck(fixture);
    const master = new Redis(sentinel.nodes[0]!);
    try {
      expect(await master.dbsize()).toBeGreaterThan(0);
    } finally {
      master.disconnect();
    }
  }, 60_000);
});
