import { hash } from 'node:crypto';
import { referenceKey, type EvalContext, type GroupInfo, type MappingPlan, type MemberContext, type Reference, type TargetAction } from '../mapping/types.js';
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
  /** A referenced resource's target id; undefined while it exists without one; null once it is gone. */
  reference(type: ResourceType, id: string): Promise<string | null | undefined>;
  /** The groups a user is in (for `fromGroups` and `$groups`). */
  groupsOf(userId: string): Promise<GroupInfo[]>;
}

export interface PlanInput {
  type: ResourceType;
  current: (StoredResource & { deleted: boolean }) | null;
  delivered: Delivered;
  mapping: MappingPlan;
  resolver: TargetIdResolver;
  /**
   * Plan even when this revision was delivered: something the resource's fields read changed
   * elsewhere (a referenced resource linked or went, a group was renamed). Unchanged fields
   * still cause no call.
   */
  recheck?: boolean;
}

/** One thing to do on the target, and what to record once it succeeded. */
export interface DeliveryStep {
  /**
   * Identifies the step across retries: a retry resumes an action's list of calls after the last
   * one that succeeded only when the new plan has a step with the same key.
   */
  key?: string;
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
  /** Records of a chunk of memberships (addMembers, removeMembers), saved at once when the step succeeded. */
  members?: Array<{ id: string; targetId: string | null }>;
  /** A create after a create whose outcome is unknown, with no lookup to tell: may duplicate. */
  unsure?: true;
  /** Forget the resource in the bridge (it was deleted and is gone from the target). */
  purge?: true;
}

/**
 * `pending`: a referenced resource has no target id yet, so nothing may be sent. `continued`: a
 * group has more member calls than one job makes (`memberCallsPerJob`): once these steps
 * succeeded, a follow-up job of the group goes on from what was recorded.
 */
export type PlanOutcome = 'unsupported' | 'purged' | 'stale' | 'deleted' | 'converged' | 'waiting' | 'pending' | 'continued';

export interface DeliveryPlan {
  /** What the delivery amounts to once every step succeeded. */
  outcome: PlanOutcome;
  steps: DeliveryStep[];
  /** Members that wait for their target id (group stays `waiting`). */
  waiting: string[];
  /** What the steps' calls are rendered with (resolved references, the user's groups). */
  context: EvalContext;
  /** Every reference of the resource: the caller re-delivers it when one of them links or goes. */
  references: Reference[];
  /** References without a target id yet (outcome `pending`). */
  pending: Reference[];
  /** Users whose group-derived fields may have changed with this group: re-deliver them. */
  affected: string[];
  /** Revision to record as delivered once every step succeeded (converged only). */
  revision?: number;
  /** False when the plan stops at a create: plan again once its target id is known (not for a new active user, whose create is all). */
  complete: boolean;
  /** Outcome `continued`: identifies this part of the group's member changes (a follow-up job's trigger). */
  continuation?: string;
}

export async function planDelivery(input: PlanInput): Promise<DeliveryPlan> {
  const { type, current, mapping } = input;
  const saved = input.delivered.state;
  const watchesGroups = type === 'Group' && mapping.usesGroups('User');
  if (!mapping.supports(type) && !watchesGroups) return empty('unsupported');
  if (!current) return empty('purged');
  if (saved && saved.revision >= current.revision && !(input.recheck && !current.deleted)) return empty('stale');
  const state: DeliveryState = saved ?? { revision: 0 };
  if (!mapping.supports(type)) return planGroupWatch(input, current, state);

  const { context, references, pending } = await contextOf(input, current);
  if (current.deleted) return { ...(await planRemoval(input, current, state)), context, references };
  if (pending.length > 0) return { ...empty('pending'), context, references, pending };

  const steps: DeliveryStep[] = [];
  // A create whose later calls have not all run yet is resumed, even though it has its target id.
  if (!state.targetId || state.progress?.step === 'create') {
    if (!state.targetId && mapping.has(type, 'lookup')) steps.push({ key: 'lookup', action: { kind: 'lookup' }, link: 'lookup' });
    steps.push({
      key: 'create',
      action: { kind: 'create' },
      link: 'create',
      // Stored before the create is sent, so that a retry after a crash knows the create may have
      // reached the target. With a lookup rule the retry looks up first anyway (and so does a
      // delete of a user without a target id), so the mark would cost a round trip for nothing.
      ...(state.targetId || mapping.has(type, 'lookup') ? {} : { before: { createPending: true } }),
      after: {
        createPending: false,
        bodyHash: await fieldsHash(mapping, type, current.doc, context),
        active: type === 'User' ? true : undefined,
        ...(await kept(mapping, type, current.doc, context)),
      },
      ...(state.createPending && !mapping.has(type, 'lookup') ? { unsure: true as const } : {}),
    });
    // A new active user is converged by its create alone: the next plan would find its fields
    // hash (saved by the create) and its state equal, and plan nothing. A lookup that links, a
    // user created inactive (deactivate next), a group (members next) or a resumed create plan again.
    if (type === 'User' && !state.targetId && current.doc.active !== false) {
      return { ...empty('converged'), steps, context, references, revision: current.revision };
    }
    return { ...empty('converged'), steps, context, references, complete: false };
  }

  steps.push(...(await attributeSteps(mapping, type, current.doc, state, context)));
  const { waiting, more } = type === 'Group' ? await memberSteps(input, current, steps) : { waiting: [], more: false };
  const affected = watchesGroups ? await groupChange(input, current, state, steps) : [];
  if (more) {
    const continuation = hashOf(steps.flatMap((step) => (step.key ? [step.key] : []))).slice(0, 12);
    return { ...empty('continued'), steps, waiting, context, references, affected, continuation };
  }
  return waiting.length > 0
    ? { ...empty('waiting'), steps, waiting, context, references, affected }
    : { ...empty('converged'), steps, context, references, affected, revision: current.revision };
}

function empty(outcome: PlanOutcome): DeliveryPlan {
  return { outcome, steps: [], waiting: [], context: {}, references: [], pending: [], affected: [], complete: true };
}

/** The user's groups (when the mapping reads them) and the target ids of its references. */
async function contextOf(
  input: PlanInput,
  current: StoredResource & { deleted: boolean },
): Promise<{ context: EvalContext; references: Reference[]; pending: Reference[] }> {
  const { type, mapping, resolver } = input;
  const context: EvalContext = {};
  if (type === 'User' && mapping.usesGroups('User')) context.groups = await resolver.groupsOf(current.id);
  const references = await evaluating(() => mapping.references(type, current.doc, context));
  const targetIds = new Map<string, string | null>();
  const pending: Reference[] = [];
  for (const reference of references) {
    const targetId = await resolver.reference(reference.type, reference.id);
    // A deleted resource keeps its references resolvable: its calls are rendered with null.
    if (targetId === undefined && !current.deleted) pending.push(reference);
    targetIds.set(referenceKey(reference.type, reference.id), targetId ?? null);
  }
  context.targetIds = targetIds;
  if (mapping.usesPrevious(type) && input.delivered.state?.fields) context.previous = input.delivered.state.fields;
  return { context, references, pending };
}

/** A deleted resource: delete (or deactivate) it in the target if it got there, then forget it. */
async function planRemoval(input: PlanInput, current: StoredResource, state: DeliveryState): Promise<DeliveryPlan> {
  const { type, mapping } = input;
  const steps: DeliveryStep[] = [];
  if (state.targetId) {
    if (mapping.has(type, 'delete')) steps.push({ key: 'delete', action: { kind: 'delete' } });
    else if (mapping.has(type, 'deactivate')) steps.push({ key: 'deactivate', action: { kind: 'deactivate' }, goneIsOk: true });
  } else if (mapping.has(type, 'lookup')) {
    // A create may have reached the target unseen (a crash between the create and its save): a
    // lookup that finds it re-plans the delete.
    steps.push({ key: 'lookup', action: { kind: 'lookup' }, link: 'lookup' });
  }
  steps.push({ purge: true });
  const affected = type === 'Group' && mapping.usesGroups('User') ? await formerMembers(input, current) : [];
  return { ...empty('deleted'), steps, affected };
}

/**
 * A group the mapping does not deliver but whose memberships feed users' fields (`fromGroups`):
 * remember who was in it, and re-deliver the users who joined or left, or every member when the
 * group was renamed or deleted.
 */
async function planGroupWatch(input: PlanInput, current: StoredResource & { deleted: boolean }, state: DeliveryState): Promise<DeliveryPlan> {
  if (current.deleted) return { ...empty('deleted'), steps: [{ purge: true }], affected: await formerMembers(input, current) };
  const steps: DeliveryStep[] = [];
  const desired = new Set(current.members ?? []);
  for (const id of desired) {
    if (!input.delivered.members.has(id)) steps.push({ member: { id, targetId: '' } });
  }
  for (const id of input.delivered.members.keys()) {
    if (!desired.has(id)) steps.push({ member: { id, targetId: null } });
  }
  const affected = await groupChange(input, current, state, steps);
  return { ...empty('converged'), steps, affected, revision: current.revision };
}

/** Users whose groups changed with this delivery of a group (member steps already planned). */
async function groupChange(input: PlanInput, current: StoredResource, state: DeliveryState, steps: DeliveryStep[]): Promise<string[]> {
  const nameHash = hashOf({ displayName: current.doc.displayName, externalId: current.doc.externalId });
  if (state.nameHash !== undefined && state.nameHash !== nameHash) {
    steps.push({ after: { nameHash } });
    return [...new Set([...(current.members ?? []), ...input.delivered.members.keys()])];
  }
  if (state.nameHash === undefined) steps.push({ after: { nameHash } });
  return steps.flatMap((step) => [...(step.member ? [step.member.id] : []), ...(step.members ?? []).map((member) => member.id)]);
}

async function formerMembers(input: PlanInput, current: StoredResource): Promise<string[]> {
  return [...new Set([...input.delivered.members.keys(), ...(current.members ?? [])])];
}

/** Reactivate, update the mapped fields if they changed, deactivate: in that order (users). */
async function attributeSteps(
  mapping: MappingPlan,
  type: ResourceType,
  doc: ScimResource,
  state: DeliveryState,
  context: EvalContext,
): Promise<DeliveryStep[]> {
  const steps: DeliveryStep[] = [];
  const wantActive = type === 'User' ? doc.active !== false : undefined;
  const toggle = wantActive !== undefined && wantActive !== state.active && mapping.has(type, wantActive ? 'reactivate' : 'deactivate');
  if (toggle && wantActive) steps.push({ key: 'reactivate', action: { kind: 'reactivate' }, after: { active: true } });
  const hash = await fieldsHash(mapping, type, doc, context);
  if (hash !== state.bodyHash && mapping.has(type, 'update')) {
    steps.push({ key: `update:${hash}`, action: { kind: 'update' }, after: { bodyHash: hash, ...(await kept(mapping, type, doc, context)) } });
  }
  if (toggle && !wantActive) steps.push({ key: 'deactivate', action: { kind: 'deactivate' }, after: { active: false } });
  return steps;
}

/**
 * Adds the desired members not delivered yet and removes the others: one call per member
 * (addMember, removeMember) or one per chunk of `memberChunkSize` members (addMembers,
 * removeMembers). At most `memberCallsPerJob` member calls are planned; `more` says there are
 * further ones, for a follow-up job. Each step records its members once it succeeded, so the
 * next plan (a retry, the follow-up job) starts after the last chunk that succeeded. Members
 * are taken in the group's (sorted) order, so a retry forms the same chunks again.
 */
async function memberSteps(input: PlanInput, group: StoredResource, steps: DeliveryStep[]): Promise<{ waiting: string[]; more: boolean }> {
  const { mapping, resolver } = input;
  const bulkAdd = mapping.has('Group', 'addMembers');
  const bulkRemove = mapping.has('Group', 'removeMembers');
  const canAdd = bulkAdd || mapping.has('Group', 'addMember');
  const canRemove = bulkRemove || mapping.has('Group', 'removeMember');
  const waiting: string[] = [];
  if (!canAdd && !canRemove) return { waiting, more: false };
  const { chunkSize, callsPerJob } = mapping.memberLimits();
  let calls = callsPerJob;
  let more = false;
  const desired = new Set([...(group.members ?? [])].sort());
  const delivered = input.delivered.members;

  if (canAdd) {
    // Members are resolved only as far as this job's calls reach; the follow-up job goes on.
    const room = bulkAdd ? calls * chunkSize : calls;
    const ready: MemberContext[] = [];
    for (const memberId of desired) {
      if (delivered.has(memberId)) continue;
      if (ready.length === room) {
        more = true;
        break;
      }
      const member = await resolver.member(memberId);
      if (!member) waiting.push(memberId);
      else ready.push(member);
    }
    if (bulkAdd) {
      for (const chunk of chunksOf(ready, chunkSize)) {
        steps.push({
          key: `addMembers:${hashOf(chunk.map((member) => member.id)).slice(0, 16)}`,
          action: { kind: 'addMembers', members: chunk },
          members: chunk.map((member) => ({ id: member.id, targetId: member.targetId })),
        });
      }
      calls -= Math.ceil(ready.length / chunkSize);
    } else {
      for (const member of ready) {
        steps.push({ key: `addMember:${member.id}`, action: { kind: 'addMember', member }, member: { id: member.id, targetId: member.targetId } });
      }
      calls -= ready.length;
    }
  }

  const removed = [...delivered].filter(([memberId]) => !desired.has(memberId)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (!canRemove) {
    for (const [memberId] of removed) steps.push({ member: { id: memberId, targetId: null } });
    return { waiting, more };
  }
  const room = Math.max(0, bulkRemove ? calls * chunkSize : calls);
  if (removed.length > room) more = true;
  const gone: MemberContext[] = [];
  for (const [memberId, memberTargetId] of removed.slice(0, room)) {
    const type: ResourceType = (await resolver.isGroup(memberId)) ? 'Group' : 'User';
    gone.push({ id: memberId, targetId: memberTargetId, type });
  }
  if (bulkRemove) {
    for (const chunk of chunksOf(gone, chunkSize)) {
      steps.push({
        key: `removeMembers:${hashOf(chunk.map((member) => member.id)).slice(0, 16)}`,
        action: { kind: 'removeMembers', members: chunk },
        members: chunk.map((member) => ({ id: member.id, targetId: null })),
      });
    }
  } else {
    for (const member of gone) {
      steps.push({ key: `removeMember:${member.id}`, action: { kind: 'removeMember', member }, member: { id: member.id, targetId: null } });
    }
  }
  return { waiting, more };
}

function chunksOf<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
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

/** The fields to keep as "previous" after this delivery, when the mapping sends them. */
async function kept(mapping: MappingPlan, type: ResourceType, doc: ScimResource, context: EvalContext): Promise<Partial<DeliveryState>> {
  return mapping.usesPrevious(type) ? { fields: await evaluating(() => mapping.fields(type, doc, context)) } : {};
}

/** Hash of the mapped fields: an update is due when it differs from the last one delivered. */
export async function fieldsHash(mapping: MappingPlan, type: ResourceType, doc: ScimResource, context?: EvalContext): Promise<string> {
  return hashOf(await evaluating(() => mapping.fields(type, doc, context)));
}

function hashOf(value: unknown): string {
  return hash('sha256', stableJson(value), 'base64url');
}

/** JSON with sorted keys, so equal field sets hash equally whatever their key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
