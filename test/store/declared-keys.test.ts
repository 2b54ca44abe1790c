import { createHash, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIRM_SCRIPT_SOURCES } from '../../src/store/confirm-scripts.js';
import { createRedisStore } from '../../src/store/redis-store.js';
import { STORE_SCRIPT_SOURCES } from '../../src/store/scripts.js';
import type { ResourceStore } from '../../src/store/types.js';
import { startRedisStandalone, type Topology } from '../helpers/redis-topologies.js';
import { entraUser, scimGroup, unique } from './fixtures.js';

/**
 * Redis requires a script to declare in KEYS every key it touches, and Redis 7.0 does not
 * enforce it when all keys share one hash slot (as a connection's keys do, by their hash tag).
 * So this test watches a private redis-server with MONITOR, which lists each command a script
 * runs right after the EVALSHA that started it, asks the server (COMMAND GETKEYS) which keys
 * each of those commands touched, and requires every one to be among the script's KEYS.
 */

const SCRIPTS: Record<string, string> = { ...STORE_SCRIPT_SOURCES, ...CONFIRM_SCRIPT_SOURCES };
const NAME_BY_SHA = new Map(Object.entries(SCRIPTS).map(([name, lua]) => [createHash('sha1').update(lua).digest('hex'), name]));
const REJECTED = { kind: 'rejected', status: 400, detail: 'refused' } as const;
const TTL = 30_000;

interface ScriptRun {
  name: string;
  declared: Set<string>;
  commands: string[][];
}

let server: Topology;
let redis: Redis;
let monitor: Redis;
let store: ResourceStore;
let storePrefix: string;
const events: Array<{ args: string[]; source: string }> = [];

beforeAll(async () => {
  server = await startRedisStandalone();
  redis = new Redis(server.url);
  monitor = await redis.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => events.push({ args, source }));
  storePrefix = `sbtest-declared-${randomUUID().slice(0, 8)}:c:{acme}`;
  store = createRedisStore(redis, { prefix: storePrefix });
}, 30_000);

afterAll(async () => {
  monitor?.disconnect();
  await redis?.quit();
  await server?.stop();
});

/** Everything the monitor saw until now, cut into script runs (the EVALSHA, then its commands). */
async function scriptRuns(): Promise<ScriptRun[]> {
  const marker = `declared-keys-${randomUUID()}`;
  await redis.echo(marker);
  await expect.poll(() => events.some((e) => e.args[0]?.toLowerCase() === 'echo' && e.args[1] === marker)).toBe(true);
  const runs: ScriptRun[] = [];
  let current: ScriptRun | undefined;
  for (const { args, source } of events.splice(0)) {
    const command = args[0]?.toLowerCase();
    if (source === 'lua') {
      if (!current) throw new Error(`a script command without its EVALSHA: ${args.join(' ')}`);
      current.commands.push(args.map(unquote));
    } else if (command === 'evalsha' || command === 'eval') {
      const sha = command === 'eval' ? createHash('sha1').update(unquote(args[1]!)).digest('hex') : args[1]!.toLowerCase();
      const count = Number(args[2]);
      current = { name: NAME_BY_SHA.get(sha) ?? `unknown script ${sha}`, declared: new Set(args.slice(3, 3 + count)), commands: [] };
      runs.push(current);
    } else {
      current = undefined;
    }
  }
  return runs;
}

/** MONITOR shows arguments quoted (sdscatrepr) and ioredis leaves the escapes in: undo them. */
function unquote(text: string): string {
  const named: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
  return text.replace(/\\(x[0-9a-f]{2}|.)/g, (_, escape: string) =>
    escape.length === 3 ? String.fromCharCode(parseInt(escape.slice(1), 16)) : (named[escape] ?? escape),
  );
}

/** The keys one command touches, as the server itself says. */
async function keysOf(command: string[]): Promise<string[]> {
  if (command.length === 1) return []; // TIME
  try {
    return (await redis.call('COMMAND', 'GETKEYS', ...command)) as string[];
  } catch (error) {
    if (/no key arguments/i.test((error as Error).message)) return [];
    throw error;
  }
}

/** `name: key (command)` for every key a script touched without declaring it. */
async function undeclared(runs: ScriptRun[]): Promise<string[]> {
  const found: string[] = [];
  for (const run of runs) {
    for (const command of run.commands) {
      for (const key of await keysOf(command)) if (!run.declared.has(key)) found.push(`${run.name}: ${key} (${command[0]})`);
    }
  }
  return found;
}

describe('store scripts declare every key they touch', () => {
  it('the check itself catches a script that touches a key it did not declare', async () => {
    const key = `sbtest-declared-probe-${randomUUID().slice(0, 8)}`;
    const lua = "redis.call('SET', KEYS[1], 1) return redis.call('GET', KEYS[1] .. ':other')";
    await redis.eval(lua, 1, key);
    const sha = createHash('sha1').update(lua).digest('hex');
    expect(await undeclared(await scriptRuns())).toEqual([`unknown script ${sha}: ${key}:other (GET)`]);
  });

  it('over creates, member changes, rollbacks, deletes and purges', async () => {
    const users = [];
    for (let i = 0; i < 4; i++) users.push(await store.create('User', entraUser(`${unique(`u${i}`)}@example.com`)));
    const [a, b, c, d] = users.map((u) => u.id) as [string, string, string, string];

    const inner = await store.create('Group', scimGroup(unique('inner')), { members: { kind: 'set', members: [a, b], details: { [a]: { display: 'A' } } } });
    const outer = await store.create('Group', scimGroup(unique('outer')), { members: { kind: 'set', members: [inner.id, c] } });
    // set: drops a and b (found in the group's members), adds c and d.
    await store.update('Group', inner.id, null, { ...inner.doc, displayName: unique('inner2') }, { members: { kind: 'set', members: [c, d] } });
    await store.update('Group', inner.id, 2, null, { members: { kind: 'delta', add: [a], remove: [c] }, touchedAt: new Date().toISOString() });
    await store.update('User', a, 1, { ...users[0]!.doc, userName: `${unique('renamed')}@example.com` });
    await store.setDeliveryState('User', a, { targetId: 'T-a', revision: 2 });
    // The save that links a new target id answers the groups and dependants waiting for it.
    await store.addDependant({ type: 'User', id: d }, { type: 'User', id: a });
    expect(await store.linkDeliveryState('User', d, { targetId: 'T-d', revision: 1 })).toEqual({ groups: [inner.id], dependants: [{ type: 'User', id: a }] });
    expect(await store.getDeliveryState('User', d)).toMatchObject({ targetId: 'T-d', revision: 1 });
    expect(await store.linkDeliveryState('User', 'never-stored', { targetId: 'T-x', revision: 1 })).toEqual({ groups: [], dependants: [] });
    expect(await store.getDeliveryState('User', 'never-stored')).toBeNull();

    // A waited-for membership change, rejected: the members are restored.
    const waited = await store.update('Group', inner.id, null, null, { members: { kind: 'delta', add: [b], remove: [a, d] }, confirmTtlMs: TTL });
    expect(await store.settleConfirmation('Group', inner.id, waited.revision, REJECTED)).toMatchObject({ kind: 'restored' });
    expect(await store.collectConfirmation('Group', inner.id, waited.revision)).toEqual(REJECTED);

    // A waited-for group create, rejected after another group took it in: removed from everything.
    const doomed = await store.create('Group', scimGroup(unique('doomed')), { members: { kind: 'set', members: [b] }, confirmTtlMs: TTL });
    await store.update('Group', outer.id, null, null, { members: { kind: 'delta', add: [doomed.id], remove: [] } });
    expect(await store.settleConfirmation('Group', doomed.id, 1, REJECTED)).toMatchObject({ kind: 'removed', groups: [{ id: outer.id }] });

    // A waited-for user create, put in a group, rejected.
    const late = await store.create('User', entraUser(`${unique('late')}@example.com`), { confirmTtlMs: TTL });
    await store.update('Group', inner.id, null, null, { members: { kind: 'delta', add: [late.id], remove: [] } });
    expect(await store.settleConfirmation('User', late.id, 1, REJECTED)).toMatchObject({ kind: 'removed', groups: [{ id: inner.id }] });

    // A wait the writer gives up on, then one that succeeds.
    const gaveUp = await store.update('User', b, null, { ...users[1]!.doc, displayName: 'Given up' }, { confirmTtlMs: TTL });
    expect(await store.collectConfirmation('User', b, gaveUp.revision)).toBeUndefined();
    const fine = await store.update('User', b, null, { ...users[1]!.doc, displayName: 'Fine' }, { confirmTtlMs: TTL });
    expect(await store.settleConfirmation('User', b, fine.revision, { kind: 'ok' })).toEqual({ kind: 'replied' });

    // Deletes: a user in groups, a group with members that is itself a member.
    expect((await store.delete('User', c))?.affectedGroups).toEqual([outer.id].sort());
    expect((await store.delete('Group', inner.id))?.affectedGroups).toEqual([outer.id]);
    await store.purge('User', c);
    await store.purge('Group', inner.id);
    // A create and an update that append their timeline event in their own script.
    const tracked = entraUser(`${unique('tracked')}@example.com`);
    const history = (revision: number) => ({ key: `${storePrefix}:tlog:User:${tracked.id}`, entry: `["e",${revision}]`, maxEntries: 5, maxAgeMs: 60_000 });
    await store.create('User', tracked, { history: history(1) });
    await store.update('User', tracked.id, 1, { ...tracked, displayName: 'Tracked' }, { history: history(2) });
    expect(await redis.lrange(`${storePrefix}:tlog:User:${tracked.id}`, 0, -1)).toEqual(['["e",1]', '["e",2]']);
    // The outbox relay's claim of what all this left.
    expect((await store.outboxClaim(1_000, 60_000)).length).toBeGreaterThan(0);

    const runs = await scriptRuns();
    expect(new Set(runs.map((run) => run.name))).toEqual(new Set(Object.keys(SCRIPTS)));
    expect(runs.reduce((n, run) => n + run.commands.length, 0)).toBeGreaterThan(100);
    expect(await undeclared(runs)).toEqual([]);
  });
});
