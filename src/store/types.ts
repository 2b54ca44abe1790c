import type { MemberChange, MemberDetails, ResourceType, ScimResource } from '../scim/types.js';

/**
 * The bridge's own record of what Entra provisioned, per connection, plus what has been
 * delivered to the target. Implemented by `redis-store.ts`; every write is one atomic step.
 */

export interface StoredResource {
  type: ResourceType;
  id: string;
  /** Bumped by every accepted write (including membership-only changes and delete). */
  revision: number;
  doc: ScimResource;
  /** Group member ids, only when asked for with `{ members: true }`. */
  members?: string[];
  /** `display`/`type` of the members that have any, by member id (with `members`). */
  memberDetails?: Record<string, MemberDetails>;
}

/** Attributes with an index; lookups on them cost O(1) whatever the number of resources. */
export type IndexedAttribute = 'userName' | 'externalId' | 'displayName' | 'email';

/** Thrown by create/replace when a unique attribute is taken by another resource. */
export class UniquenessError extends Error {
  override readonly name = 'UniquenessError';
  constructor(readonly attribute: 'userName' | 'displayName') {
    super(`${attribute} is already in use`);
  }
}

/** Thrown by replace when `expectedRevision` is no longer current (someone else wrote first). */
export class RevisionConflictError extends Error {
  override readonly name = 'RevisionConflictError';
  constructor() {
    super('revision conflict');
  }
}

/**
 * Thrown when a write kept finding a set it depends on (a group's members, a resource's
 * groups) changed between reading it and running its script (see `script-keys.ts`), more
 * often than it retries. Nothing was written; the request may be retried (503).
 */
export class StoreContentionError extends Error {
  override readonly name = 'StoreContentionError';
  constructor() {
    super('memberships kept changing during the write');
  }
}

/** Thrown when writing a resource that does not exist (or was deleted). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor() {
    super('resource not found');
  }
}

/** What the worker last delivered for a resource (see delivery/processor). */
export interface DeliveryState {
  /** The target's id for this resource, once created or found there. */
  targetId?: string;
  /** Highest store revision fully delivered. */
  revision: number;
  /** Hash of the last update body delivered, to skip no-op updates. */
  bodyHash?: string;
  /** `active` as last delivered (users). */
  active?: boolean;
  /** Set before a create call whose outcome is not known yet; triggers lookup-before-create. */
  createPending?: boolean;
  /**
   * An action with several calls that stopped part-way: the step's key, how many of its calls
   * succeeded and what they captured. A retry of the same step resumes after them.
   */
  progress?: { step: string; done: number; captured: Record<string, unknown> };
  /** Groups: hash of displayName and externalId as last seen, to re-deliver members on a rename. */
  nameHash?: string;
  /** The mapped fields as last delivered, kept only when the mapping sends `{previous}`. */
  fields?: Record<string, unknown>;
}

/** One accepted write, identified by resource and the revision it produced. */
export interface OutboxEntry {
  type: ResourceType;
  id: string;
  revision: number;
  /** The SCIM request that made the write, to follow it into delivery. */
  requestId?: string;
  /** userName or displayName at the time of the write (what the dashboard shows). */
  name?: string;
  /** The entry as stored (set by outboxClaim and outboxDue): what outboxAck removes. */
  member?: string;
}

/** Carried in a write's outbox entries for the delivery job (never other attribute values). */
export interface OutboxNote {
  requestId?: string;
  name?: string;
}

export interface WriteOptions {
  /** For groups: how the write changes membership. Applied atomically with the document. */
  members?: MemberChange;
  /**
   * First-attempt confirmation: keep the state this write replaces and mark a waiter for this
   * many ms, so a rejection of the first delivery attempt can roll the write back
   * (settleConfirmation) until the waiter gives up (collectConfirmation).
   */
  confirmTtlMs?: number;
  /**
   * For an update that keeps the document (`doc: null`): the time to report as
   * `meta.lastModified` from now on, since a membership change modifies the group.
   */
  touchedAt?: string;
  /** Request id and name for the write's outbox entry; only the request id for other groups it changes. */
  note?: OutboxNote;
  /** A timeline append made by the write's own script when it succeeds (ops history, one round trip). */
  history?: HistoryAppend;
}

/**
 * The revision of a history entry for a write whose revision the store assigns (a delete, a
 * membership-only update): the
 * entry holds REVISION_SLOT where its revision goes, and the write's script writes it in.
 */
export const REVISION_ASSIGNED_BY_STORE = -1;
/** A raw U+001F, which no encoded event holds (JSON escapes control characters). */
export const REVISION_SLOT = '\x1f';

/** RPUSH `entry` to the list `key`, keep its newest `maxEntries`, expire it after `maxAgeMs`. */
export interface HistoryAppend {
  key: string;
  entry: string;
  maxEntries: number;
  maxAgeMs: number;
}

/** What the first delivery attempt of a waited-for write said. */
export type ConfirmOutcome =
  | { kind: 'ok' }
  | { kind: 'transient' }
  /** The target refused for good; `status` is its HTTP status, `detail` its (redacted) reason. */
  | { kind: 'rejected'; status: number; detail: string };

/** What settleConfirmation did to the store. */
export type SettleResult =
  | { kind: 'none' | 'replied' }
  /** The rejected write was undone as a new revision holding the previous state. */
  | { kind: 'restored'; revision: number }
  /** The rejected write was a create: the resource is gone; these groups lost it as a member. */
  | { kind: 'removed'; groups: Array<{ id: string; revision: number }> };

export interface ResourceStore {
  /** Creates a resource; `doc.id` must be set by the caller. Throws UniquenessError. */
  create(type: ResourceType, doc: ScimResource, options?: WriteOptions): Promise<StoredResource>;

  get(type: ResourceType, id: string, options?: { members?: boolean }): Promise<StoredResource | null>;

  /**
   * Replaces the document (and optionally changes membership) if the stored revision equals
   * `expectedRevision`. Pass `doc: null` to change membership only, in which case no revision
   * check is made (set operations commute). Throws RevisionConflictError, NotFoundError,
   * UniquenessError.
   */
  update(
    type: ResourceType,
    id: string,
    expectedRevision: number | null,
    doc: ScimResource | null,
    options?: WriteOptions,
  ): Promise<StoredResource>;

  /**
   * Removes the resource from every read path and index at once, bumps its revision and keeps a
   * tombstone so the worker can still delete it in the target. For users, also removes the
   * user from every group; returns the ids of the groups whose membership changed. With
   * `expectedRevision`, throws RevisionConflictError unless that is the current revision.
   * `history`: the delete's own timeline event, its revision REVISION_ASSIGNED_BY_STORE.
   */
  delete(
    type: ResourceType,
    id: string,
    expectedRevision?: number,
    note?: OutboxNote,
    history?: HistoryAppend,
  ): Promise<{ revision: number; affectedGroups: string[] } | null>;

  /**
   * Ids whose indexed attribute equals `value` (case-insensitive for userName, displayName, email).
   * For a user's email the candidates include the user whose userName is that value (such an
   * email is not indexed on its own): callers check the documents (list filters do).
   */
  findBy(type: ResourceType, attribute: IndexedAttribute, value: string): Promise<string[]>;

  /** Stable creation-order page; `startIndex` is 1-based as in SCIM. */
  list(type: ResourceType, startIndex: number, count: number): Promise<{ total: number; ids: string[] }>;

  count(type: ResourceType): Promise<number>;

  getMany(type: ResourceType, ids: string[], options?: { members?: boolean }): Promise<StoredResource[]>;

  /**
   * The id and revision of each resource of `ids` that exists (tombstones left out), in the
   * order given, without reading the documents: for existence checks and for queueing jobs.
   */
  revisions(type: ResourceType, ids: string[]): Promise<Array<{ id: string; revision: number }>>;

  isMember(groupId: string, memberId: string): Promise<boolean>;

  /** Groups the member belongs to (reverse index). */
  groupsOf(memberId: string): Promise<string[]>;

  // ---- outbox: every write (create, update, delete, and each group a delete touched) adds an
  // entry atomically with the write. The outbox relay (`delivery/outbox-relay.ts`) turns entries
  // into delivery jobs: it claims them for a lease, queues their jobs, then acknowledges them.
  // An entry whose relay died comes due again when its lease ends.

  /** Entries due for relaying (by Redis time, oldest first), without claiming them. */
  outboxDue(olderThanMs: number, limit: number): Promise<OutboxEntry[]>;

  /** Claims up to `limit` due entries for `leaseMs`: no other relay sees them until then. */
  outboxClaim(limit: number, leaseMs: number): Promise<OutboxEntry[]>;

  /** How many entries wait, due or claimed: writes accepted whose jobs are not queued yet. */
  outboxSize(): Promise<number>;

  outboxAck(entries: OutboxEntry[]): Promise<void>;

  // ---- delivery side (worker) ----

  /**
   * The latest state to converge the target on: the live resource (with members for groups) or,
   * after a delete, its tombstone (last document, `deleted: true`). Null if unknown or purged.
   */
  getForDelivery(type: ResourceType, id: string): Promise<(StoredResource & { deleted: boolean }) | null>;

  getDeliveryState(type: ResourceType, id: string): Promise<DeliveryState | null>;

  /** `getForDelivery` and `getDeliveryState` as one read (one record, one snapshot). */
  getWithDeliveryState(type: ResourceType, id: string): Promise<[(StoredResource & { deleted: boolean }) | null, DeliveryState | null]>;

  setDeliveryState(type: ResourceType, id: string, state: DeliveryState): Promise<void>;

  /**
   * `setDeliveryState` for the state that holds a resource's new target id, answering in the same
   * step what waits for that id: the groups it is in (`groupsOf`) and the resources whose `ref:`
   * fields name it (`dependantsOf`). One round trip and one command instead of three.
   */
  linkDeliveryState(type: ResourceType, id: string, state: DeliveryState): Promise<LinkFollowUps>;

  /** Members as delivered to the target: SCIM member id → target id of that member. */
  getDeliveredMembers(groupId: string): Promise<Map<string, string>>;

  setDeliveredMember(groupId: string, memberId: string, memberTargetId: string | null): Promise<void>;

  /** Records (or, with `targetId: null`, forgets) a chunk of delivered members in one atomic step. */
  setDeliveredMembers(groupId: string, members: ReadonlyArray<{ id: string; targetId: string | null }>): Promise<void>;

  /** Records that `dependant` maps a reference to `ref` (a `ref:` field), to re-deliver it when `ref` links or goes. */
  addDependant(ref: { type: ResourceType; id: string }, dependant: { type: ResourceType; id: string }): Promise<void>;

  /** The resources recorded with addDependant for `ref`. */
  dependantsOf(ref: { type: ResourceType; id: string }): Promise<Array<{ type: ResourceType; id: string }>>;

  /** Forgets a deleted resource entirely (tombstone, delivery state, delivered members, dependants). */
  purge(type: ResourceType, id: string): Promise<void>;

  // ---- first-attempt confirmation (delivery.confirm.mode: first-attempt) ----

  /** The current revision (also of a tombstone), or null. */
  getRevision(type: ResourceType, id: string): Promise<number | null>;

  /**
   * The worker's report on the first delivery attempt of `revision`, if a writer still waits for
   * it: a rejection rolls the write back atomically (unless a newer write came since, or the old
   * userName is taken, or a create already reached the target: then the reply says transient).
   */
  settleConfirmation(type: ResourceType, id: string, revision: number, outcome: ConfirmOutcome): Promise<SettleResult>;

  /**
   * The writer's side, when notified or when its wait ran out: the report if there is one,
   * otherwise it stops waiting (the change stays, delivery goes on) and returns undefined.
   */
  collectConfirmation(type: ResourceType, id: string, revision: number): Promise<ConfirmOutcome | undefined>;

  /** Deletes every key of this store (tests, `reset`). */
  clear(): Promise<void>;
}

/** What waits for a resource's target id (`linkDeliveryState`). */
export interface LinkFollowUps {
  /** Ids of the groups the resource is in, sorted. */
  groups: string[];
  /** Resources whose `ref:` fields name it, sorted. */
  dependants: Array<{ type: ResourceType; id: string }>;
}
