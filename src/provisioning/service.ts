import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { changedAttributes } from '../ops/changed-attributes.js';
import { resourceName } from '../ops/resource-name.js';
import type { ScimOperation } from '../ops/timeline.js';
import type { MappingPlan } from '../mapping/types.js';
import { scimError } from '../scim/error-catalog.js';
import { applyDeclaredExtensions } from '../scim/extensions.js';
import { normalizePatch, normalizeResource } from '../scim/normalize.js';
import { applyPatch } from '../scim/patch.js';
import { newResource, replaceResource } from '../scim/resource.js';
import { BUILT_IN_SCHEMAS, type SchemaRegistry } from '../scim/schema-registry.js';
import { checkIfMatch, isWildcard, preconditionFailed } from '../scim/etag.js';
import type { MemberChange, MemberDetails, ResourceType, ScimResource } from '../scim/types.js';
import { firstAttemptError } from './first-attempt.js';
import { createLister } from './list.js';
import { createRecentUsers, RECENT_USERS_MAX } from './recent-users.js';
import {
  NotFoundError,
  REVISION_ASSIGNED_BY_STORE,
  RevisionConflictError,
  UniquenessError,
  type ConfirmOutcome,
  type HistoryAppend,
  type OutboxNote,
  type ResourceStore,
  type StoredResource,
} from '../store/types.js';

/**
 * The SCIM use cases of one connection: validate and normalise what Entra sent, apply it to the
 * store in one atomic step, and hand the change to delivery. Framework-free: the HTTP layer
 * only translates requests and results.
 */

export interface ProvisioningDeps {
  connectionId: string;
  store: ResourceStore;
  plan: MappingPlan;
  /** The connection's schemas (built-in plus declared extensions); built-in only when absent. */
  schemas?: SchemaRegistry;
  /** Told about every accepted write (ops: the resource's timeline); not awaited. */
  onChange?: (change: AcceptedChange) => Promise<void>;
  /**
   * The timeline append of a write, for the store to make in the write's own script: one round
   * trip for both. For a create or a compare-and-set update the revision is known before it
   * runs; a delete's or a membership-only update's is REVISION_ASSIGNED_BY_STORE (its script
   * writes it in). Writes it covers are not told to `onChange`.
   */
  history?: (change: AcceptedChange) => HistoryAppend;
  /**
   * Told that accepted writes wait in the outbox (to wake this process's outbox relay, if it
   * runs one). The write is durable without it: the entry is part of the write itself.
   */
  notify?: () => void;
  now?: () => Date;
  newId?: () => string;
  /**
   * `delivery.confirm.mode: first-attempt`: writes keep what they replace for `ttlMs`, and
   * `expect` (called after the write, before the enqueue) waits for the first delivery attempt.
   */
  confirm?: {
    ttlMs: number;
    expect(type: ResourceType, id: string, revision: number): () => Promise<ConfirmOutcome | undefined>;
  };
  /** Input bounds (config `limits`); the defaults when absent. */
  limits?: { idLength: number; pathLength: number };
  /** How long a write keeps retrying after losing compare-and-set races (tests shorten it). */
  casBudgetMs?: number;
  /**
   * How many users this process keeps for PATCHes to start from (`recent-users.ts`); 0 = none.
   * Not used in first-attempt mode, whose rollbacks rewrite users behind the process's back.
   * @default 10000
   */
  recentUsers?: number;
}

/** Who asked for a write: carried into delivery jobs and the timeline, to follow a change. */
export interface ChangeContext {
  requestId?: string;
}

/** One accepted write, by attribute names only (never values). */
export interface AcceptedChange {
  type: ResourceType;
  id: string;
  revision: number;
  op: ScimOperation;
  requestId?: string;
  attributes: string[];
}

/** What a write did, for the delivery jobs and the timeline. */
interface WriteNote {
  op: ScimOperation;
  context: ChangeContext;
  before?: ScimResource;
  after?: ScimResource;
  membersChanged?: boolean;
  /** The write's own script already appended its timeline event (`ProvisioningDeps.history`). */
  recorded?: boolean;
}


/** Preconditions of a write (RFC 7644 §3.14), from its `If-Match` header. */
export interface Conditions {
  ifMatch?: string;
}


/**
 * A write that loses a compare-and-set race (another request changed the resource between our
 * read and our write) reads again and retries, after a short random pause so that many
 * concurrent writers spread out instead of colliding again in lockstep. It gives up only after
 * this much time, with a 503 and Retry-After that Entra honours.
 */
const CAS_BUDGET_MS = 10_000;
/** What a PATCH attempt from a copy answers when it must start again from Redis. */
const FROM_REDIS = Symbol('from Redis');
const CAS_MAX_PAUSE_MS = 50;
const DEFAULT_LIMITS = { idLength: 256, pathLength: 512 };

export type Provisioning = ReturnType<typeof createProvisioning>;

export function createProvisioning(deps: ProvisioningDeps) {
  const { store, plan } = deps;
  const schemas = deps.schemas ?? BUILT_IN_SCHEMAS;
  /** A normalised POST/PUT body with its declared extensions checked (400 before anything is stored). */
  const normalize = (type: ResourceType, body: unknown) => applyDeclaredExtensions(type, normalizeResource(type, body, schemas), schemas);
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? (() => randomUUID());
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const casBudgetMs = deps.casBudgetMs ?? CAS_BUDGET_MS;
  const recent = createRecentUsers(deps.confirm ? 0 : (deps.recentUsers ?? RECENT_USERS_MAX));
  const lister = createLister(store, schemas);

  /** Runs one read-modify-write `attempt` until it wins its compare-and-set or the budget is spent. */
  async function retryingConflicts<T>(attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + casBudgetMs;
    for (let round = 1; ; round++) {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof RevisionConflictError)) throw err;
        if (Date.now() >= deadline) {
          throw scimError('RESOURCE_BUSY', {}, { 'retry-after': '1' });
        }
        await delay(Math.random() * Math.min(CAS_MAX_PAUSE_MS, 2 ** round));
      }
    }
  }

  /**
   * A user's PUT or PATCH without If-Match starts from this process's copy of the user, if it has
   * one (recent-users.ts): one Redis command instead of two. The attempt writes with the copy's
   * revision as its compare-and-set condition and answers FROM_REDIS whenever the copy cannot
   * decide the outcome (the store refused that revision, or the attempt failed before anything
   * was sent); the write then starts again from what Redis holds.
   */
  async function fromCopyOrRedis(
    type: ResourceType,
    id: string,
    conditions: Conditions,
    attempt: (current: StoredResource, fromCopy: boolean, write: { sent: boolean }) => Promise<StoredResource | typeof FROM_REDIS>,
  ): Promise<StoredResource> {
    /** One attempt; `write.sent` is set by the attempt once its write has gone to the store. */
    const from = async (current: StoredResource, fromCopy: boolean) => {
      const write = { sent: false };
      try {
        return await attempt(current, fromCopy, write);
      } catch (error) {
        recent.forget(id);
        if (fromCopy && (!write.sent || error instanceof RevisionConflictError)) return FROM_REDIS;
        throw error;
      }
    };
    return retryingConflicts(async () => {
      const copy = type === 'User' && conditions.ifMatch === undefined ? recent.get(id) : undefined;
      const fromCopy = copy ? await from(copy, true) : FROM_REDIS;
      if (fromCopy !== FROM_REDIS) return fromCopy;
      const result = await from(await mustGet(type, id), false);
      if (result === FROM_REDIS) throw new Error('a write from Redis never asks to start again');
      return result;
    });
  }

  /**
   * After an accepted write: its outbox entries are already stored with it (one script), so
   * delivery needs nothing more from the API than a nudge to this process's relay, if any.
   */
  function changed(type: ResourceType, id: string, revision: number, note: WriteNote, alsoGroups: { id: string; revision: number }[] = []) {
    const { requestId } = note.context;
    deps.notify?.();
    // The timeline is history for ops, not part of the write: not waited for.
    const changes: AcceptedChange[] = [
      ...(note.recorded ? [] : [changeOf(type, id, revision, note)]),
      ...alsoGroups.map((g) => ({ type: 'Group' as const, ...g, op: 'membership' as const, ...(requestId ? { requestId } : {}), attributes: ['members'] })),
    ];
    for (const change of changes) {
      deps.onChange?.(change).catch(() => {
        // A lost timeline entry costs ops one line of history, never the write.
      });
    }
  }

  /** One accepted write as the timeline records it: attribute names only. */
  function changeOf(type: ResourceType, id: string, revision: number, note: WriteNote): AcceptedChange {
    const { requestId } = note.context;
    const attributes = changedAttributes(note.before, note.after);
    if (note.membersChanged && !attributes.includes('members')) attributes.push('members');
    return { type, id, revision, op: note.op, ...(requestId ? { requestId } : {}), attributes };
  }

  /**
   * Store options carrying the write's timeline append when its revision is known beforehand,
   * and the note to pass on to `deliver` (recorded, so it is not appended twice).
   */
  function withHistory(type: ResourceType, id: string, revision: number, note: WriteNote): { history?: HistoryAppend } {
    const history = deps.history?.(changeOf(type, id, revision, note));
    if (!history) return {};
    note.recorded = true;
    return { history };
  }

  /** Store options of a write that waits for its first delivery attempt (first-attempt mode). */
  function confirmOption(type: ResourceType): { confirmTtlMs?: number } {
    return deps.confirm && plan.supports(type) ? { confirmTtlMs: deps.confirm.ttlMs } : {};
  }

  /** Hands the write to delivery; in first-attempt mode, waits for it and throws a rejection. */
  async function deliver(type: ResourceType, id: string, revision: number, note: WriteNote): Promise<void> {
    const wait = deps.confirm && plan.supports(type) ? deps.confirm.expect(type, id, revision) : undefined;
    changed(type, id, revision, note);
    if (!wait) return;
    const outcome = await wait();
    if (outcome?.kind === 'rejected') throw firstAttemptError(type, outcome);
  }

  async function checkRules(type: ResourceType, doc: ScimResource): Promise<void> {
    if (!plan.supports(type)) return;
    const violations = await plan.check(type, doc);
    if (violations.length > 0) throw scimError('RULE_FAILED', { rules: violations.map((v) => v.detail).join('; ') });
  }

  /**
   * Checks that every added member exists and returns the change with each nested group's
   * `type` recorded (members default to users), so answers carry the right `type` and `$ref`.
   */
  async function checkMembers(change: MemberChange | undefined, groupId?: string): Promise<MemberChange | undefined> {
    if (!change) return undefined;
    const ids = change.kind === 'set' ? change.members : change.add;
    const unique = [...new Set(ids)];
    if (unique.some((id) => id.length > limits.idLength)) {
      throw scimError('MEMBER_ID_LENGTH', { limit: limits.idLength });
    }
    if (groupId && unique.includes(groupId)) throw scimError('MEMBER_SELF');
    if (unique.length === 0) return change;
    const users = await store.revisions('User', unique);
    const found = new Set(users.map((u) => u.id));
    const rest = unique.filter((id) => !found.has(id));
    const groups = rest.length > 0 ? await store.revisions('Group', rest) : [];
    for (const g of groups) found.add(g.id);
    const missing = unique.filter((id) => !found.has(id));
    if (missing.length > 0) throw scimError('MEMBER_MISSING', { count: missing.length });
    if (groups.length === 0) return change;
    const details = { ...change.details };
    for (const g of groups) details[g.id] = { ...details[g.id], type: 'Group' };
    return { ...change, details };
  }

  /** Store errors as SCIM errors; a lost compare-and-set race passes through, to be retried. */
  function translate(err: unknown, type: ResourceType): never {
    if (err instanceof UniquenessError) throw scimError('UNIQUENESS', { attribute: err.attribute, type: type.toLowerCase() });
    if (err instanceof NotFoundError) throw scimError('RESOURCE_NOT_FOUND', { type });
    throw err;
  }

  async function mustGet(type: ResourceType, id: string, members = false): Promise<StoredResource> {
    const found = await store.get(type, id, { members });
    if (!found) throw scimError('RESOURCE_NOT_FOUND', { type });
    return found;
  }

  return {
    schemas,

    async create(type: ResourceType, body: unknown, context: ChangeContext = {}): Promise<StoredResource> {
      const normalized = normalize(type, body);
      const { doc, members, memberDetails } = newResource(type, normalized, { id: newId(), now: now() });
      await checkRules(type, doc);
      const change = await checkMembers(memberSet(members, memberDetails), doc.id);
      const note: WriteNote = { op: 'create', context, after: doc, membersChanged: members !== undefined };
      const stored = await store
        .create(type, doc, { ...(change ? { members: change } : {}), ...confirmOption(type), note: outboxNote(context, doc), ...withHistory(type, doc.id, 1, note) })
        .catch((e) => translate(e, type));
      await deliver(type, stored.id, stored.revision, note);
      recent.remember(stored);
      // The store answers without members; a new group's members are exactly the ones just set.
      if (!members) return stored;
      return change?.details ? { ...stored, members, memberDetails: change.details } : { ...stored, members };
    },

    async get(type: ResourceType, id: string, options: { withMembers: boolean }): Promise<StoredResource> {
      const found = await mustGet(type, id, options.withMembers && type === 'Group');
      recent.remember(found);
      return found;
    },

    /** Filtered, sorted, paged queries (`list.ts`). */
    async list(...args: Parameters<typeof lister>): ReturnType<typeof lister> {
      const result = await lister(...args);
      for (const resource of result.resources) recent.remember(resource);
      return result;
    },


    async replace(type: ResourceType, id: string, body: unknown, conditions: Conditions = {}, context: ChangeContext = {}): Promise<StoredResource> {
      const normalized = normalize(type, body);

      /**
       * One attempt from `current` (from a copy: see `fromCopyOrRedis`). A PUT that changes
       * nothing (Okta sends unchanged users again) writes nothing: no new revision, no delivery;
       * on a copy that proves nothing, so it starts again from Redis.
       */
      async function attempt(current: StoredResource, fromCopy: boolean, write: { sent: boolean }): Promise<StoredResource | typeof FROM_REDIS> {
        checkIfMatch(conditions.ifMatch, current.revision);
        const { doc, members, memberDetails } = replaceResource(current.doc, normalized, now());
        await checkRules(type, doc);
        // A PUT without `members` leaves membership alone (see replaceResource): Entra never
        // reads members back, so silently emptying a group would go unnoticed.
        const change = await checkMembers(memberSet(members, memberDetails), id);
        if (change === undefined && sameDocument(doc, current.doc)) return fromCopy ? FROM_REDIS : current;
        const note: WriteNote = { op: 'replace', context, before: current.doc, after: doc, membersChanged: change !== undefined };
        write.sent = true;
        const stored = await store
          .update(type, id, current.revision, doc, {
            ...(change ? { members: change } : {}),
            ...confirmOption(type),
            note: outboxNote(context, doc),
            ...withHistory(type, id, current.revision + 1, note),
          })
          .catch((e) => translate(e, type));
        await deliver(type, id, stored.revision, note);
        recent.remember(stored);
        return stored;
      }

      return fromCopyOrRedis(type, id, conditions, attempt);
    },

    async patch(type: ResourceType, id: string, body: unknown, conditions: Conditions = {}, context: ChangeContext = {}): Promise<StoredResource> {
      const ops = normalizePatch(type, body, schemas, { maxPathLength: limits.pathLength });

      /**
       * One attempt from `current`. From a copy (recent-users.ts), every way it can end without
       * writing answers `FROM_REDIS`, so the caller starts again from Redis: the store refused
       * the copy's revision, the patch failed on the copy (see `fromCopyOrRedis`), or it changed
       * nothing (a no-op on a copy proves nothing about what Redis holds).
       */
      async function attempt(current: StoredResource, fromCopy: boolean, write: { sent: boolean }): Promise<StoredResource | typeof FROM_REDIS> {
        checkIfMatch(conditions.ifMatch, current.revision);
        const patched = applyPatch(type, current.doc, ops, schemas);
        const doc = applyDeclaredExtensions(type, patched.doc, schemas);
        // The result must be a resource a POST would accept: a PATCH that leaves it invalid
        // (no userName, a numeric manager.value) is rejected before anything is stored.
        normalizeResource(type, doc, schemas);
        const members = await checkMembers(patched.members, id);
        const docChanged = !sameDocument(doc, current.doc);
        if (!docChanged && !members) return fromCopy ? FROM_REDIS : current;
        const modified = now().toISOString();
        const next = docChanged ? { ...doc, meta: { ...doc.meta, lastModified: modified } } : null;
        if (next) await checkRules(type, next);
        // Membership-only changes skip the revision check (unless If-Match asks for one): set
        // operations commute, so concurrent member PATCHes on one group never lose a member.
        const expected = next || conditions.ifMatch !== undefined ? current.revision : null;
        const note: WriteNote = { op: 'patch', context, before: current.doc, after: next ?? current.doc, membersChanged: members !== undefined };
        write.sent = true;
        const stored = await store
          .update(type, id, expected, next, {
            ...(members ? { members, touchedAt: modified } : {}),
            ...confirmOption(type),
            note: outboxNote(context, next ?? current.doc),
            // Without a revision check (membership only) the script assigns the revision.
            ...withHistory(type, id, expected === null ? REVISION_ASSIGNED_BY_STORE : expected + 1, note),
          })
          .catch((e) => translate(e, type));
        await deliver(type, id, stored.revision, note);
        recent.remember(stored);
        return stored;
      }

      return fromCopyOrRedis(type, id, conditions, attempt);
    },

    async remove(type: ResourceType, id: string, conditions: Conditions = {}, context: ChangeContext = {}): Promise<void> {
      let expected: number | undefined;
      if (conditions.ifMatch !== undefined) {
        const { revision } = await mustGet(type, id);
        checkIfMatch(conditions.ifMatch, revision);
        // `*` only asks that the resource exists; a tag asks that nobody wrote in between.
        if (!isWildcard(conditions.ifMatch)) expected = revision;
      }
      const note: WriteNote = { op: 'delete', context };
      // The delete's script appends its timeline event, with the revision it assigns.
      const { history } = withHistory(type, id, REVISION_ASSIGNED_BY_STORE, note);
      const result = await store.delete(type, id, expected, outboxNote(context), history).catch((err: unknown) => {
        throw err instanceof RevisionConflictError ? preconditionFailed() : err;
      });
      recent.forget(id);
      if (!result) throw scimError('RESOURCE_NOT_FOUND', { type });
      const groups = await store.revisions('Group', result.affectedGroups);
      changed(type, id, result.revision, note, groups);
    },
  };
}

/** What a write's delivery job carries to be followed: the request id and the resource's name. */
function outboxNote(context: ChangeContext, doc?: ScimResource): OutboxNote {
  const name = doc ? resourceName(doc) : undefined;
  return { ...(context.requestId ? { requestId: context.requestId } : {}), ...(name ? { name } : {}) };
}

/** The membership a POST or PUT body sets, if it carried `members`. */
function memberSet(members: string[] | undefined, details: Record<string, MemberDetails> | undefined): MemberChange | undefined {
  if (!members) return undefined;
  return details ? { kind: 'set', members, details } : { kind: 'set', members };
}

/**
 * Whether two documents hold the same resource, `meta` (times, version) aside. Deep equality,
 * not JSON text: key order is no change, and it costs half as much.
 */
function sameDocument(a: ScimResource, b: ScimResource): boolean {
  const { meta: _a, ...restA } = a;
  const { meta: _b, ...restB } = b;
  return isDeepStrictEqual(restA, restB);
}
