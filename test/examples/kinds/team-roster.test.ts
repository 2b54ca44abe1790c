import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueName } from '../../../src/delivery/types.js';
import { TEST_REDIS_URL } from '../../helpers/redis.js';
import { GROUP_SCHEMA, patch, settle, startExampleBridge, USER_SCHEMA, type ExampleBridge } from './bridge-run.js';
import { idMaker, startFakeTarget, type FakeTarget } from './fake-target.js';

/**
 * mappings/examples/team-roster.yaml (kind 6: batch membership endpoints) against a fake that
 * takes at most 100 ids per call: a team of 2,500 members arrives in 25 calls of 100, spread over
 * jobs of at most 10 calls, and a 503 on the 7th call is retried without sending any chunk that
 * already succeeded again.
 */

const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const MEMBERS = 2_500;
const people = new Map<string, { id: string; email: string; name: string | null; active: boolean }>();
const teams = new Map<string, { id: string; name: string; members: Set<string> }>();
/** Every batch call, in order: its kind, its ids and the status answered. */
const batches: Array<{ kind: 'add' | 'remove'; ids: string[]; status: number }> = [];
const personId = idMaker('p');
const teamId = idMaker('t');
let target: FakeTarget;
let bridge: ExampleBridge;

function batch(kind: 'add' | 'remove') {
  return (r: { body: unknown }, [id]: string[]) => {
    const team = teams.get(id!);
    const ids = (r.body as { ids?: unknown }).ids;
    if (!team || !Array.isArray(ids)) return { status: 404 };
    if (ids.length > 100) return { status: 413, body: { error: 'at most 100 ids per call' } };
    // The fault: the 7th add call fails once, in the middle of the team's first job.
    const status = kind === 'add' && batches.filter((b) => b.kind === 'add').length === 6 ? 503 : 200;
    batches.push({ kind, ids: ids as string[], status });
    if (status !== 200) return { status };
    for (const member of ids as string[]) {
      if (!people.has(member)) return { status: 422, body: { error: `no person ${member}` } };
      if (kind === 'add') team.members.add(member);
      else team.members.delete(member);
    }
    return { status: 200, body: { size: team.members.size } };
  };
}

beforeAll(async () => {
  target = await startFakeTarget([
    { method: 'GET', path: /^\/api\/people$/, handle: (r) => ({ status: 200, body: { people: [...people.values()].filter((p) => p.email === r.query.get('email')) } }) },
    {
      method: 'POST',
      path: /^\/api\/people$/,
      handle: (r) => {
        const person = { id: personId(), ...(r.body as { email: string; name: string | null; active: boolean }) };
        people.set(person.id, person);
        return { status: 201, body: { id: person.id } };
      },
    },
    { method: 'PUT', path: /^\/api\/people\/([^/]+)$/, handle: (r, [id]) => (people.has(id!) ? (Object.assign(people.get(id!)!, r.body), { status: 200 }) : { status: 404 }) },
    { method: 'DELETE', path: /^\/api\/people\/([^/]+)$/, handle: (_r, [id]) => ({ status: people.delete(id!) ? 204 : 404 }) },
    {
      method: 'POST',
      path: /^\/api\/teams$/,
      handle: (r) => {
        const team = { id: teamId(), name: (r.body as { name: string }).name, members: new Set<string>() };
        teams.set(team.id, team);
        return { status: 201, body: { team: { id: team.id } } };
      },
    },
    { method: 'PUT', path: /^\/api\/teams\/([^/]+)$/, handle: (r, [id]) => (teams.has(id!) ? ((teams.get(id!)!.name = (r.body as { name: string }).name), { status: 200 }) : { status: 404 }) },
    { method: 'DELETE', path: /^\/api\/teams\/([^/]+)$/, handle: (_r, [id]) => ({ status: teams.delete(id!) ? 204 : 404 }) },
    { method: 'POST', path: /^\/api\/teams\/([^/]+)\/members\/add$/, handle: batch('add') },
    { method: 'POST', path: /^\/api\/teams\/([^/]+)\/members\/remove$/, handle: batch('remove') },
  ]);
  bridge = await startExampleBridge('team-roster', { baseUrl: target.url });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
});

const emails = (ids: Iterable<string>) => [...ids].map((id) => people.get(id)?.email ?? `?${id}`).sort();

describe('example: team roster (batch membership calls in chunks)', () => {
  it('delivers a team of 2,500 in 25 chunks over several jobs, resuming after a 503 without repeating a chunk', { timeout: 180_000 }, async () => {
    const all = Array.from({ length: MEMBERS }, (_, i) => `user${String(i).padStart(4, '0')}@contoso.example`);
    const scimIds: string[] = [];
    for (let start = 0; start < all.length; start += 1_000) {
      const Operations = all.slice(start, start + 1_000).map((userName, i) => ({
        method: 'POST',
        path: '/Users',
        bulkId: `u${start + i}`,
        data: { schemas: [USER_SCHEMA], userName, active: true },
      }));
      const res = await bridge.scim('POST', '/Bulk', { schemas: [BULK], Operations });
      expect(res.status).toBe(200);
      for (const op of res.body.Operations as Array<{ status: string; location: string }>) {
        expect(op.status).toBe('201');
        scimIds.push(op.location.split('/').pop()!);
      }
    }
    // Every person exists in the app first, so the team's chunks are the same whatever the timing.
    expect(await settle(() => people.size, MEMBERS, 120_000), (await bridge.failures()).join('\n')).toBe(MEMBERS);

    const team = await bridge.scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Everyone', members: scimIds.map((value) => ({ value })) });
    expect(team.status).toBe(201);
    const holds = () => emails([...teams.values()][0]?.members ?? []);
    expect(await settle(holds, all, 60_000), (await bridge.failures()).join('\n')).toEqual(all);

    const adds = batches.filter((b) => b.kind === 'add');
    // 25 chunks of 100, plus the one answered 503.
    expect(adds.map((b) => [b.ids.length, b.status])).toEqual([...Array.from({ length: 25 }, () => [100, 200]).slice(0, 6), [100, 503], ...Array.from({ length: 19 }, () => [100, 200])]);
    // The retry sent the failed chunk again, first, and no succeeded chunk twice.
    expect(adds[7]!.ids).toEqual(adds[6]!.ids);
    const succeeded = adds.filter((b) => b.status === 200).flatMap((b) => b.ids);
    expect(succeeded.length).toBe(MEMBERS);
    expect(new Set(succeeded).size).toBe(MEMBERS);

    // The team's jobs: the first (retried once after the 503) made 6 + 10 calls and handed on to a follow-up job.
    const queue = new Queue(queueName('app'), { connection: { url: TEST_REDIS_URL }, prefix: `${bridge.prefix}:{bull}` });
    try {
      const jobs = (await queue.getJobs(['completed'])).filter((job) => job.data.type === 'Group');
      expect(jobs.map((job) => [job.attemptsMade, job.returnvalue?.outcome, job.returnvalue?.calls]).sort()).toEqual([
        [1, 'converged', 9],
        [2, 'continued', 10],
      ]);
    } finally {
      await queue.close();
    }

    // Removing 150 members: two remove calls (100 + 50).
    const leaving = scimIds.slice(0, 150);
    const removed = await bridge.scim('PATCH', `/Groups/${team.body.id}`, patch(...leaving.map((id) => ({ op: 'Remove', path: `members[value eq "${id}"]` }))));
    expect(removed.status).toBeLessThan(300);
    expect(await settle(holds, all.slice(150), 30_000)).toEqual(all.slice(150));
    expect(batches.filter((b) => b.kind === 'remove').map((b) => b.ids.length)).toEqual([100, 50]);
  });
});
