import { describe, expect, it } from 'vitest';
import { fieldsHash, planDelivery, type PlanInput, type TargetIdResolver } from '../../src/delivery/plan.js';
import type { ResourceType, ScimResource } from '../../src/scim/types.js';
import type { DeliveryState } from '../../src/store/types.js';
import { loadMappingSource } from '../../src/mapping/load.js';
import type { MappingPlan } from '../../src/mapping/types.js';
import { createFakePlan } from './fakes.js';

/** The planner alone: no store, no client, only data in and steps out. */

const mapping = createFakePlan();
const linked: TargetIdResolver = {
  member: async (id) => (id.startsWith('linked') ? { id, targetId: `t-${id}`, type: 'User' } : undefined),
  isGroup: async (id) => id.startsWith('g'),
  reference: async () => null,
  groupsOf: async () => [],
};

function doc(type: ResourceType, attributes: Record<string, unknown>): ScimResource {
  return { id: 'r1', schemas: [], meta: { resourceType: type, created: '', lastModified: '' }, ...attributes };
}

function input(type: ResourceType, attributes: Record<string, unknown>, state: DeliveryState | null, extra: Partial<PlanInput> = {}): PlanInput {
  return {
    type,
    current: { type, id: 'r1', revision: 2, doc: doc(type, attributes), deleted: false },
    delivered: { state, members: new Map() },
    mapping,
    resolver: linked,
    ...extra,
  };
}

const actions = (steps: { action?: { kind: string } }[]) => steps.map((step) => step.action?.kind ?? '-');

describe('planDelivery', () => {
  it('stops at the create of a resource without a target id (the rest needs its id)', async () => {
    const planned = await planDelivery(input('User', { userName: 'a', active: false }, null));
    expect(actions(planned.steps)).toEqual(['create']);
    expect(planned).toMatchObject({ complete: false, steps: [{ link: 'create', before: { createPending: true } }] });
  });

  it('completes at the create of a new active user: nothing is left for a second plan', async () => {
    const planned = await planDelivery(input('User', { userName: 'a', active: true }, null));
    expect(actions(planned.steps)).toEqual(['create']);
    expect(planned).toMatchObject({ outcome: 'converged', complete: true, revision: 2 });
    expect(planned.steps[0]?.after?.bodyHash).toBe(await fieldsHash(mapping, 'User', doc('User', { userName: 'a', active: true })));
    // A group's members follow its create: planned again once it has its id.
    expect(await planDelivery(input('Group', { displayName: 'G' }, null))).toMatchObject({ complete: false });
  });

  it('reactivates before and deactivates after the update, and records the new hash', async () => {
    const user = { userName: 'a', displayName: 'A' };
    const stale = { targetId: 't', revision: 1, bodyHash: 'old', active: false };
    const up = await planDelivery(input('User', { ...user, active: true }, stale));
    expect(actions(up.steps)).toEqual(['reactivate', 'update']);
    expect(up.steps[1]?.after?.bodyHash).toBe(await fieldsHash(mapping, 'User', doc('User', { ...user, active: true })));
    const down = await planDelivery(input('User', { ...user, active: false }, { ...stale, active: true }));
    expect(actions(down.steps)).toEqual(['update', 'deactivate']);
    expect(down).toMatchObject({ outcome: 'converged', revision: 2, complete: true });
  });

  it('adds linked members, keeps the others waiting, removes (and forgets) the dropped ones', async () => {
    const bodyHash = await fieldsHash(mapping, 'Group', doc('Group', { displayName: 'G' }));
    const group = input('Group', { displayName: 'G' }, null, {
      delivered: { state: { targetId: 'tg', revision: 1, bodyHash }, members: new Map([['g-old', 't-g-old']]) },
    });
    group.current = { ...group.current!, members: ['linked-1', 'unlinked-2'] };
    const planned = await planDelivery(group);
    expect(planned.steps).toEqual([
      { key: 'addMember:linked-1', action: { kind: 'addMember', member: { id: 'linked-1', targetId: 't-linked-1', type: 'User' } }, member: { id: 'linked-1', targetId: 't-linked-1' } },
      { key: 'removeMember:g-old', action: { kind: 'removeMember', member: { id: 'g-old', targetId: 't-g-old', type: 'Group' } }, member: { id: 'g-old', targetId: null } },
    ]);
    expect(planned).toMatchObject({ outcome: 'waiting', waiting: ['unlinked-2'] });
    expect(planned.revision).toBeUndefined();
  });

  it('deletes a deleted resource that reached the target, and purges it; stale and purged plans are empty', async () => {
    const gone = input('User', { userName: 'a' }, { targetId: 't', revision: 1 });
    gone.current = { ...gone.current!, deleted: true };
    expect(await planDelivery(gone)).toMatchObject({ outcome: 'deleted', steps: [{ action: { kind: 'delete' } }, { purge: true }] });
    expect(await planDelivery(input('User', {}, { targetId: 't', revision: 5 }))).toMatchObject({ outcome: 'stale', steps: [] });
    expect(await planDelivery({ ...input('User', {}, null), current: null })).toMatchObject({ outcome: 'purged', steps: [] });
  });
});

describe('planDelivery: a create whose outcome may be unknown', () => {
  const withLookup = createFakePlan({ actions: { User: ['lookup', 'create', 'update', 'delete'], Group: [] } });

  it('marks the create pending before sending it only when no lookup can find it afterwards', async () => {
    const planned = await planDelivery(input('User', { userName: 'a', active: false }, null, { mapping: withLookup }));
    expect(planned.steps.map((step) => step.action?.kind)).toEqual(['lookup', 'create']);
    expect(planned.steps[1]).not.toHaveProperty('before');
  });

  it('looks up a deleted resource that has no target id, in case its create went through unseen', async () => {
    const gone = input('User', { userName: 'a' }, { revision: 1 }, { mapping: withLookup });
    gone.current = { ...gone.current!, deleted: true };
    expect(await planDelivery(gone)).toMatchObject({ outcome: 'deleted', steps: [{ action: { kind: 'lookup' }, link: 'lookup' }, { purge: true }] });
    const never = input('User', { userName: 'a' }, null);
    never.current = { ...never.current!, deleted: true };
    expect(await planDelivery(never)).toMatchObject({ outcome: 'deleted', steps: [{ purge: true }] });
  });
});

describe('planDelivery: member changes in chunks', () => {
  const bulk = (extra: string[] = []) =>
    loadMappingSource(
      [
        'version: 1',
        'groups:',
        '  fields: { name: displayName }',
        '  create: { method: POST, path: /teams, targetId: id }',
        '  addMembers: { method: POST, path: "/teams/{targetId}/members", body: { userIds: "{members.targetIds}" } }',
        '  removeMembers: { method: DELETE, path: "/teams/{targetId}/members?ids={members.targetIds}" }',
        ...extra,
        '',
      ].join('\n'),
      'bulk.yaml',
    );
  const ids = (n: number, prefix = 'linked') => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`);

  async function groupInput(plan: MappingPlan, members: string[], delivered: Map<string, string> = new Map()): Promise<PlanInput> {
    const bodyHash = await fieldsHash(plan, 'Group', doc('Group', { displayName: 'G' }));
    const group = input('Group', { displayName: 'G' }, null, { mapping: plan, delivered: { state: { targetId: 'tg', revision: 1, bodyHash }, members: delivered } });
    group.current = { ...group.current!, members };
    return group;
  }

  it('adds members in chunks of memberChunkSize, each chunk recording its members, in sorted order', async () => {
    const plan = bulk(['  memberChunkSize: 2']);
    const planned = await planDelivery(await groupInput(plan, ['linked-c', 'linked-a', 'linked-b', 'unlinked-x']));
    expect(actions(planned.steps)).toEqual(['addMembers', 'addMembers']);
    expect(planned.steps[0]?.action).toEqual({
      kind: 'addMembers',
      members: [
        { id: 'linked-a', targetId: 't-linked-a', type: 'User' },
        { id: 'linked-b', targetId: 't-linked-b', type: 'User' },
      ],
    });
    expect(planned.steps[1]?.members).toEqual([{ id: 'linked-c', targetId: 't-linked-c' }]);
    expect(planned).toMatchObject({ outcome: 'waiting', waiting: ['unlinked-x'] });
    const calls = await plan.plan({ type: 'Group', resource: doc('Group', {}), targetId: 'tg', action: planned.steps[0]!.action! });
    expect(calls.map((call) => [call.request.method, call.request.path, call.request.body])).toEqual([
      ['POST', '/teams/tg/members', { userIds: ['t-linked-a', 't-linked-b'] }],
    ]);
  });

  it('removes delivered members in chunks; a list in a path is comma-separated, each id encoded', async () => {
    const plan = bulk(['  memberChunkSize: 2']);
    const delivered = new Map([
      ['gone-1', 't/1'],
      ['gone-2', 't 2'],
      ['gone-3', 't3'],
    ]);
    const planned = await planDelivery(await groupInput(plan, [], delivered));
    expect(actions(planned.steps)).toEqual(['removeMembers', 'removeMembers']);
    expect(planned.steps[0]?.members).toEqual([
      { id: 'gone-1', targetId: null },
      { id: 'gone-2', targetId: null },
    ]);
    const calls = await plan.plan({ type: 'Group', resource: doc('Group', {}), targetId: 'tg', action: planned.steps[0]!.action! });
    expect(calls[0]?.request.path).toBe('/teams/tg/members?ids=t%2F1,t%202');
    expect(planned).toMatchObject({ outcome: 'converged', revision: 2 });
  });

  it('defaults to 100 members per call and 100 calls per job', async () => {
    const planned = await planDelivery(await groupInput(bulk(), ids(250)));
    expect(planned.steps.map((step) => step.members?.length)).toEqual([100, 100, 50]);
    expect(planned.outcome).toBe('converged');
  });

  it('plans at most memberCallsPerJob calls; the rest is "continued" and resumes after what was recorded', async () => {
    const plan = bulk(['  memberChunkSize: 10', '  memberCallsPerJob: 3']);
    const all = ids(45);
    const first = await planDelivery(await groupInput(plan, all));
    expect(first.steps.map((step) => step.members?.length)).toEqual([10, 10, 10]);
    expect(first).toMatchObject({ outcome: 'continued', complete: true });
    expect(first.revision).toBeUndefined();
    expect(first.continuation).toMatch(/^[\w-]{12}$/);

    // Two chunks succeeded, the third failed: the next plan starts with the chunk that failed, same key.
    const recorded = new Map(first.steps.slice(0, 2).flatMap((step) => step.members!.map((m): [string, string] => [m.id, m.targetId!])));
    const retry = await planDelivery({ ...(await groupInput(plan, all, recorded)), recheck: true });
    expect(retry.steps[0]?.key).toBe(first.steps[2]?.key);
    expect(retry.steps.map((step) => step.members?.length)).toEqual([10, 10, 5]);
    expect(retry).toMatchObject({ outcome: 'converged', revision: 2 });
    expect(retry.continuation).toBeUndefined();
  });

  it('bounds per-member calls too, and spends what adds left on removals', async () => {
    const plan = loadMappingSource(
      [
        'version: 1',
        'groups:',
        '  create: { method: POST, path: /teams, targetId: id }',
        '  addMember: { method: PUT, path: "/teams/{targetId}/members/{member.targetId}" }',
        '  removeMember: { method: DELETE, path: "/teams/{targetId}/members/{member.targetId}" }',
        '  memberCallsPerJob: 4',
        '',
      ].join('\n'),
      'one.yaml',
    );
    const planned = await planDelivery(await groupInput(plan, ids(3), new Map([['old-1', 't-old-1'], ['old-2', 't-old-2']])));
    expect(actions(planned.steps)).toEqual(['addMember', 'addMember', 'addMember', 'removeMember']);
    expect(planned.outcome).toBe('continued');
  });

  it('refuses addMember together with addMembers, and {member.…} in a bulk call', () => {
    expect(() => bulk(['  addMember: { method: PUT, path: "/teams/{targetId}/members/{member.targetId}" }'])).toThrow(
      /define addMember \(one call per member\) or addMembers \(one call per chunk of members\), not both/,
    );
    expect(() =>
      loadMappingSource(
        ['version: 1', 'groups:', '  create: { method: POST, path: /t, targetId: id }', '  addMembers: { method: POST, path: "/t/{member.targetId}" }', ''].join('\n'),
        'bad.yaml',
      ),
    ).toThrow(/use \{members\.targetIds\} or \{members\.ids\}/);
  });
});
