import { createHash } from 'node:crypto';
import type { MappingPlan, MemberContext, TargetAction } from '../mapping/types.js';
import type { ResourceType, ScimResource } from '../scim/types.js';
import type { DeliveryState, StoredResource } from '../store/types.js';

/**
 * The convergence planner: given the latest stored state of one resource and what was last
 * delivered for it, which steps bring the target up to date. Pure (no network, no Redis: the
 * resolver answers from data the caller has), so the delivery worker and `scim-bridge dry-run`
 * decide the same thing from the same input. The worker makes the calls and saves each step's
 * effect; dry-run only prints them.
 *
 * A step that links the resource (a lookup that finds the account, a create) changes what the
 * rest of the delivery needs, so the plan stops after a create, and a caller whose lookup found
 * an account drops the rest of the plan and plans again with the new target id.
 */

/** What was delivered to the target for one resource so far. */
export interface Delivered {
  state: DeliveryState | null;
  /** Members as delivered: SCIM member id → target id of that member (groups). */
  members: ReadonlyMap<string, string>;
}

/** Answers "which target id does this SCIM id have" from the delivery states the caller knows. */
export interface TargetIdResolver {
  /** The resource with this SCIM id (a user first, else a group) and its target id; undefined while it has none. */
  member(id: string): Promise<MemberContext | undefined>;
  /** Whether a delivered member is a group (for removeMember), else it is taken for a user. */
  isGroup(id: string): Promise<boolean>;
}

export interface PlanInput {
  type: ResourceType;
  current: (StoredResource & { deleted: boolean }) | null;
  delivered: Delivered;
  mapping: MappingPlan;
  resolver: TargetIdResolver;
}

/** One thing to do on the target, and what to record once it succeeded. */
export interface DeliveryStep {
  /** The mapping action whose calls this step makes; absent for bookkeeping-only steps. */
  action?: TargetAction;
  /** 404/410 means the goal is reached (deactivating a user that is already gone). */
  goneIsOk?: boolean;
  /** The answer carries the target id: `lookup` (may find none) or `create` (must have it). */
  link?: 'lookup' | 'create';
  /** Saved before the call: a create whose answer may get lost is marked pending. */
  before?: Partial<DeliveryState>;
  /** Saved once the step succeeded. */
  after?: Partial<DeliveryState>;
  /** Record of a membership once the step succeeded (`targetId: null` forgets it). */
  member?: { id: string; targetId: string | null };
  /** A create after a create whose outcome is unknown, with no lookup to tell: may duplicate. */
  unsure?: true;
  /** Forget the resource in the bridge (it was deleted and is gone from the target). */
  purge?: true;
}

export type PlanOutcome = 'unsupported' | 'purged' | 'stale' | 'deleted' | 'converged' | 'waiting';

export interface DeliveryPlan {
  /** What the delivery amounts to once every step succeeded. */
  outcome: PlanOutcome;
  steps: DeliveryStep[];
  /** Members that wait for their target id (group stays `waiting`). */
  waiting: string[];
  /** Revision to record as delivered once every step succeeded (converged only). */
  revision?: number;
  /** False when the plan stops at a create: plan again once its target id is known. */
  complete: boolean;
}

export async function planDelivery(input: PlanInput): Promise<DeliveryPlan> {
  const { type, current, mapping } = input;
  const saved = input.delivered.state;
  const done = (outcome: PlanOutcome): DeliveryPlan => ({ outcome, steps: [], waiting: [], complete: true });
  if (!mapping.supports(type)) return done('unsupported');
  if (!current) return done('purged');
  if (saved && saved.revision >= current.revision) return done('stale');
  const state: DeliveryState = saved ?? { revision: 0 };
  if (current.deleted) return planRemoval(input, state);

  const steps: DeliveryStep[] = [];
  if (!state.targetId) {
    if (mapping.has(type, 'lookup')) steps.push({ action: { kind: 'lookup' }, link: 'lookup' });
    steps.push({
      action: { kind: 'create' },
      link: 'create',
      before: { createPending: true },
      after: { createPending: false, bodyHash: await fieldsHash(mapping, type, current.doc), active: type === 'User' ? true : undefined },
      ...(state.createPending && !mapping.has(type, 'lookup') ? { unsure: true as const } : {}),
    });
    return { outcome: 'converged', steps, waiting: [], complete: false };
  }

  steps.push(...(await attributeSteps(mapping, type, current.doc, state)));
  const waiting = type === 'Group' ? await memberSteps(input, current, steps) : [];
  return waiting.length > 0
    ? { outcome: 'waiting', steps, waiting, complete: true }
    : { outcome: 'converged', steps, waiting, revision: current.revision, complete: true };
}

/** A deleted resource: delete (or deactivate) it in the target if it got there, then forget it. */
async function planRemoval(input: PlanInput, state: DeliveryState): Promise<DeliveryPlan> {
  const { type, mapping } = input;
  const steps: DeliveryStep[] = [];
  if (state.targetId) {
    if (mapping.has(type, 'delete')) steps.push({ action: { kind: 'delete' } });
    else if (mapping.has(type, 'deactivate')) steps.push({ action: { kind: 'deactivate' }, goneIsOk: true });
  } else if (state.createPending && mapping.has(type, 'lookup')) {
    // A create may have reached the target unseen: a lookup that finds it re-plans the delete.
    steps.push({ action: { kind: 'lookup' }, link: 'lookup' });
  }
  steps.push({ purge: true });
  return { outcome: 'deleted', steps, waiting: [], complete: true };
}

/** Reactivate, update the mapped fields if they changed, deactivate: in that order (users). */
async function attributeSteps(mapping: MappingPlan, type: ResourceType, doc: ScimResource, state: DeliveryState): Promise<DeliveryStep[]> {
  const steps: DeliveryStep[] = [];
  const wantActive = type === 'User' ? doc.active !== false : undefined;
  const toggle = wantActive !== undefined && wantActive !== state.active && mapping.has(type, wantActive ? 'reactivate' : 'deactivate');
  if (toggle && wantActive) steps.push({ action: { kind: 'reactivate' }, after: { active: true } });
  const hash = await fieldsHash(mapping, type, doc);
  if (hash !== state.bodyHash && mapping.has(type, 'update')) steps.push({ action: { kind: 'update' }, after: { bodyHash: hash } });
  if (toggle && !wantActive) steps.push({ action: { kind: 'deactivate' }, after: { active: false } });
  return steps;
}

/** Adds the desired members not delivered yet and removes the others; returns who is waiting. */
async function memberSteps(input: PlanInput, group: StoredResource, steps: DeliveryStep[]): Promise<string[]> {
  const { mapping, resolver } = input;
  const canAdd = mapping.has('Group', 'addMember');
  const canRemove = mapping.has('Group', 'removeMember');
  if (!canAdd && !canRemove) return [];
  const desired = new Set(group.members ?? []);
  const delivered = input.delivered.members;
  const waiting: string[] = [];
  if (canAdd) {
    for (const memberId of desired) {
      if (delivered.has(memberId)) continue;
      const member = await resolver.member(memberId);
      if (!member) waiting.push(memberId);
      else steps.push({ action: { kind: 'addMember', member }, member: { id: memberId, targetId: member.targetId } });
    }
  }
  for (const [memberId, memberTargetId] of delivered) {
    if (desired.has(memberId)) continue;
    const forget = { id: memberId, targetId: null };
    if (!canRemove) {
      steps.push({ member: forget });
      continue;
    }
    const type: ResourceType = (await resolver.isGroup(memberId)) ? 'Group' : 'User';
    steps.push({ action: { kind: 'removeMember', member: { id: memberId, targetId: memberTargetId, type } }, member: forget });
  }
  return waiting;
}

/**
 * A mapping that failed on this resource: permanent until the mapping or the data changes. The
 * message starts with its GW_MAP_ code; errors of the resolver (Redis) stay what they are.
 */
export class MappingFailed extends Error {
  override readonly name = 'MappingFailed';
}

/** Runs one mapping evaluation, turning its failure into MappingFailed. */
export async function evaluating<T>(evaluate: () => Promise<T>): Promise<T> {
  try {
    return await evaluate();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new MappingFailed(/^GW_MAP_/.test(message) ? message : `GW_MAP_EVAL ${message}`, { cause: error });
  }
}

/** Hash of the mapped fields: an update is due when it differs from the last one delivered. */
export async function fieldsHash(mapping: MappingPlan, type: ResourceType, doc: ScimResource): Promise<string> {
  const fields = await evaluating(() => mapping.fields(type, doc));
  return createHash('sha256').update(stableJson(fields)).digest('base64url');
}

/** JSON with sorted keys, so equal field sets hash equally whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
