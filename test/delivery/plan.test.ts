import { describe, expect, it } from 'vitest';
import { fieldsHash, planDelivery, type PlanInput, type TargetIdResolver } from '../../src/delivery/plan.js';
import type { ResourceType, ScimResource } from '../../src/scim/types.js';
import type { DeliveryState } from '../../src/store/types.js';
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
