import type { Redis } from 'ioredis';
import { createBatcher } from '../lib/batcher.js';
import { deleteMatching } from '../lib/redis-keys.js';
import type { MemberChange, MemberDetails, ResourceType, ScimResource } from '../scim/types.js';
import { decodeDocument, encodeDocument } from './doc-codec.js';
import { INDEXES, indexEntries, indexValue } from './index-entries.js';
import { createStoreKeys } from './keys.js';
import { defineConfirmScripts } from './confirm-scripts.js';
import { decodeDeliveryState, encodeDeliveryState } from './state-codec.js';
import { isWrongType, parseRecord, readRecord, type RecordFields } from './record.js';
import { declareScriptKeys, firstGuess, MAX_SCRIPT_ATTEMPTS, observedFromStale, type ObservedSets, type ObservedWhat } from './script-keys.js';
import { defineStoreScripts } from './scripts.js';
import {
  NotFoundError,
  RevisionConflictError,
  StoreContentionError,
  UniquenessError,
  type ConfirmOutcome,
  type HistoryAppend,
  type IndexedAttribute,
  type OutboxEntry,
  type OutboxNote,
  type ResourceStore,
  type StoredResource,
  type WriteOptions,
} from './types.js';

export interface RedisStoreOptions {
  /** Namespace of every key, e.g. `scim-bridge:conn:acme`; one store per connection. */
  prefix: string;
  /**
   * Store documents deflated (see `doc-codec.ts`): about a third of the memory for ~50 µs more
   * per write. Either form is read back, so this can change on a live store.
   * @default true
   */
  compressDocuments?: boolean;
}

type Reply = (string | number | null)[];

/** One resource record as read, before decoding; `doc` and `rev` are null when there is none. */
interface ResourceRow {
  id: string;
  doc: string | null;
  rev: string | null;
  deleted: boolean;
  /** When a membership-only change last modified the resource (see the update script). */
  modified: string | null;
  members?: string[];
  memberDetails?: Record<string, string>;
}

type FoundRow = ResourceRow & { doc: string; rev: string };

/** The rows of resources that exist: found and not a tombstone. */
function liveRows(rows: ResourceRow[]): FoundRow[] {
  return rows.filter((row): row is FoundRow => isFound(row) && !row.deleted);
}

function isFound(row: ResourceRow | undefined): row is FoundRow {
  return row !== undefined && row.doc !== null && row.rev !== null;
}

/**
 * The Redis implementation of `ResourceStore`. Writes are single Lua scripts (`scripts.ts`);
 * reads are plain commands, wrapped in MULTI when several keys must be read as one snapshot.
 * Every lookup is a hash or set access by key, so its cost does not grow with the number of
 * stored resources. Redis errors propagate unchanged (the HTTP layer turns them into 503).
 */
export function createRedisStore(redis: Redis, options: RedisStoreOptions): ResourceStore {
  const keys = createStoreKeys(options.prefix);
  const scripts = defineStoreScripts(redis);
  const confirmScripts = defineConfirmScripts(redis);
  const compress = options.compressDocuments ?? true;
  // The outbox relay's acknowledgements of one event-loop turn share one ZREM.
  const outboxClear = createBatcher<string>(async (members) => {
    await redis.zrem(keys.outbox, ...members);
  });

  /**
   * Runs a script that depends on the sets in `observe` (see `script-keys.ts`): first with each
   * set guessed empty, then, while the script answers that a set differs, with the sets its
   * answer gives. Without anything to observe it runs once.
   */
  async function withObserved(observe: ObservedWhat | null, run: (observed: ObservedSets) => Promise<unknown>): Promise<Reply> {
    let observed = observe === null ? {} : firstGuess(observe);
    for (let attempt = 1; ; attempt++) {
      const reply = asReply(await run(observed));
      if (reply[0] !== 'stale') return reply;
      if (attempt >= MAX_SCRIPT_ATTEMPTS) throw new StoreContentionError();
      observed = observedFromStale(reply);
    }
  }

  async function readResources(type: ResourceType, ids: string[], withMembers: boolean): Promise<ResourceRow[]> {
    return (await readRows(type, ids, withMembers)).map(([row]) => row);
  }

  /** Each resource's row, and its record's delivery state (undefined when none). */
  async function readRows(type: ResourceType, ids: string[], withMembers: boolean): Promise<Array<[ResourceRow, string | undefined]>> {
    const loadMembers = withMembers && type === 'Group';
    if (!loadMembers) {
      // One GET per resource; auto-pipelining sends them (and other requests' commands) in
      // one write. A MULTI would only add two commands: one read is atomic by itself.
      const records = await Promise.all(ids.map((id) => readRecord(redis, keys.doc(type, id))));
      return ids.map((id, i) => [toRow(id, records[i]!), records[i]?.delivery]);
    }
    // A group with its members: one MULTI, so document and membership are one snapshot.
    const tx = redis.multi();
    for (const id of ids) tx.get(keys.doc(type, id)).smembers(keys.members(id)).hgetall(keys.memberDetails(id));
    const results = await tx.exec();
    if (results === null) throw new Error('store transaction was aborted');
    // A resource hash from a release before records answers WRONGTYPE: read each group on its own.
    if (results.some(([error]) => error !== null && isWrongType(error))) {
      if (ids.length > 1) return (await Promise.all(ids.map((id) => readRows(type, [id], true)))).flat();
      return [await readLegacyGroupRow(ids[0]!)];
    }
    const values = execResults(results);
    return ids.map((id, i) => {
      const raw = values[i * 3] as string | null;
      const fields = raw === null ? null : parseRecord(raw);
      return [withMemberRows(toRow(id, fields), values[i * 3 + 1] as string[], values[i * 3 + 2] as Record<string, string>), fields?.delivery];
    });
  }

  /** One group of an older release's layout (a hash), document and membership as one snapshot. */
  async function readLegacyGroupRow(id: string): Promise<[ResourceRow, string | undefined]> {
    const [fields, members, details] = execResults(
      await redis.multi().hgetall(keys.doc('Group', id)).smembers(keys.members(id)).hgetall(keys.memberDetails(id)).exec(),
    ) as [RecordFields, string[], Record<string, string>];
    return [withMemberRows(toRow(id, Object.keys(fields).length === 0 ? null : fields), members, details), fields.delivery];
  }

  function toStored(type: ResourceType, row: FoundRow): StoredResource {
    const stored: StoredResource = { type, id: row.id, revision: Number(row.rev), doc: withModified(decodeDocument(row.doc), row.modified) };
    if (row.members) stored.members = row.members;
    if (row.memberDetails) stored.memberDetails = parseDetails(row.memberDetails);
    return stored;
  }

  /** A resource as delivery reads it: a tombstone too (`deleted`). */
  function forDelivery(type: ResourceType, row: ResourceRow | undefined): (StoredResource & { deleted: boolean }) | null {
    return isFound(row) ? { ...toStored(type, row), deleted: row.deleted } : null;
  }

  async function getMany(type: ResourceType, ids: string[], opts?: { members?: boolean }): Promise<StoredResource[]> {
    if (ids.length === 0) return [];
    return liveRows(await readResources(type, ids, opts?.members === true)).map((row) => toStored(type, row));
  }

  return {
    async create(type, doc, writeOptions) {
      const id = requireId(doc);
      const change = memberChange(type, writeOptions);
      const reply = await withObserved(change?.kind === 'set' ? { members: true } : null, (observed) => {
        const layout = declareScriptKeys(keys, type, id, { extras: [writeOptions?.history?.key ?? keys.doc(type, id)], members: changedMembers(change), observed });
        return scripts.create(layout.keys, [
          ...layout.args,
          type,
          id,
          encodeDocument(doc, compress),
          ...entryArgs(type, doc),
          ...memberArgs(change),
          confirmArg(writeOptions),
          ...noteArgs(writeOptions?.note),
          ...historyArgs(writeOptions?.history),
        ]);
      });
      if (reply[0] === 'exists') throw new Error(`${type} ${id} already exists`);
      throwOnConflict(reply);
      return { type, id, revision: Number(reply[1]), doc };
    },

    async get(type, id, opts) {
      const [resource] = await getMany(type, [id], opts);
      return resource ?? null;
    },

    async update(type, id, expectedRevision, doc, writeOptions) {
      if (doc !== null && doc.id !== id) throw new TypeError(`document id ${String(doc.id)} does not match ${id}`);
      const change = memberChange(type, writeOptions);
      const reply = await withObserved(change?.kind === 'set' ? { members: true } : null, (observed) => {
        const layout = declareScriptKeys(keys, type, id, { extras: [writeOptions?.history?.key ?? keys.doc(type, id)], members: changedMembers(change), observed });
        return scripts.update(layout.keys, [
          ...layout.args,
          type,
          id,
          expectedRevision === null ? '' : String(expectedRevision),
          doc === null ? '' : encodeDocument(doc, compress),
          doc === null ? (writeOptions?.touchedAt ?? '') : '',
          ...(doc === null ? ['0'] : entryArgs(type, doc)),
          ...memberArgs(change),
          confirmArg(writeOptions),
          ...noteArgs(writeOptions?.note),
          ...historyArgs(writeOptions?.history),
        ]);
      });
      if (reply[0] === 'notfound') throw new NotFoundError();
      if (reply[0] === 'revconflict') throw new RevisionConflictError();
      throwOnConflict(reply);
      const stored = doc ?? withModified(decodeDocument(String(reply[2])), reply[3] ? String(reply[3]) : null);
      return { type, id, revision: Number(reply[1]), doc: stored };
    },

    async delete(type, id, expectedRevision, note, history) {
      const expected = expectedRevision === undefined ? '' : String(expectedRevision);
      const reply = await withObserved({ members: type === 'Group', memberOf: true }, (observed) => {
        const layout = declareScriptKeys(keys, type, id, { extras: [history?.key ?? keys.doc(type, id)], observed });
        return scripts.remove(layout.keys, [...layout.args, type, id, expected, ...noteArgs(note), ...historyArgs(history)]);
      });
      if (reply[0] === 'notfound') return null;
      if (reply[0] === 'revconflict') throw new RevisionConflictError();
      return { revision: Number(reply[1]), affectedGroups: reply.slice(2).map(String).sort() };
    },

    async outboxDue(olderThanMs, limit) {
      const [seconds, micros] = await redis.time();
      const cutoff = Number(seconds) * 1_000_000 + Number(micros) - olderThanMs * 1000;
      const members = await redis.zrangebyscore(keys.outbox, '-inf', String(cutoff), 'LIMIT', 0, limit);
      return members.flatMap(parseOutboxMember);
    },

    async outboxClaim(limit, leaseMs) {
      const members = (await scripts.outboxClaim(keys.outbox, limit, leaseMs)) as string[];
      return members.flatMap(parseOutboxMember);
    },

    async outboxSize() {
      return redis.zcard(keys.outbox);
    },

    async outboxAck(entries) {
      if (entries.length === 0) return;
      await outboxClear.add(entries.map((e) => e.member ?? `${e.type}:${e.id}:${e.revision}`));
    },

    async findBy(type, attribute, value) {
      const mode = INDEXES[type][attribute];
      if (!mode) return [];
      const folded = indexValue(attribute, value);
      // A user's email equal to its userName is only in the userName index (index-entries.ts).
      const [found, sameUserName] = await Promise.all([
        redis.hget(keys.index(type, attribute), folded),
        type === 'User' && attribute === 'email' ? redis.hget(keys.index(type, 'userName'), folded) : null,
      ]);
      const ids = found === null ? [] : mode === 'unique' ? [found] : (JSON.parse(found) as string[]);
      return sameUserName === null || ids.includes(sameUserName) ? ids : [...ids, sameUserName];
    },

    async list(type, startIndex, count) {
      const start = Math.max(1, Math.floor(startIndex)) - 1;
      const tx = redis.multi().zcard(keys.order(type));
      if (count > 0) tx.zrange(keys.order(type), String(start), String(start + Math.floor(count) - 1));
      const [total, ids = []] = execResults(await tx.exec()) as [number, string[]?];
      return { total, ids };
    },

    count: (type) => redis.zcard(keys.order(type)),

    getMany,

    async revisions(type, ids) {
      if (ids.length === 0) return [];
      return liveRows(await readResources(type, ids, false)).map((row) => ({ id: row.id, revision: Number(row.rev) }));
    },

    async isMember(groupId, memberId) {
      return (await redis.sismember(keys.members(groupId), memberId)) === 1;
    },

    async groupsOf(memberId) {
      return (await redis.smembers(keys.memberOf(memberId))).sort();
    },

    async getForDelivery(type, id) {
      const [row] = await readResources(type, [id], true);
      return forDelivery(type, row);
    },

    async getWithDeliveryState(type, id) {
      const [[row, state]] = (await readRows(type, [id], true)) as [[ResourceRow, string | undefined]];
      return [forDelivery(type, row), state === undefined ? null : decodeDeliveryState(state)];
    },

    async getDeliveryState(type, id) {
      const state = (await readRecord(redis, keys.doc(type, id)))?.delivery;
      return state === undefined ? null : decodeDeliveryState(state);
    },

    async setDeliveryState(type, id, state) {
      await scripts.setDeliveryState(keys.doc(type, id), encodeDeliveryState(state));
    },

    async linkDeliveryState(type, id, state) {
      const reply = (await scripts.linkDeliveryState(keys.doc(type, id), keys.memberOf(id), keys.dependants(type, id), encodeDeliveryState(state))) as Array<string | number>;
      const count = Number(reply[1]);
      const groups = reply.slice(2, 2 + count).map(String).sort();
      return { groups, dependants: dependantRefs(reply.slice(2 + count).map(String)) };
    },

    async getDeliveredMembers(groupId) {
      return new Map(Object.entries(await redis.hgetall(keys.delivered(groupId))));
    },

    async setDeliveredMember(groupId, memberId, memberTargetId) {
      if (memberTargetId === null) await redis.hdel(keys.delivered(groupId), memberId);
      else await redis.hset(keys.delivered(groupId), memberId, memberTargetId);
    },

    async setDeliveredMembers(groupId, members) {
      const add = members.flatMap((member) => (member.targetId === null ? [] : [member.id, member.targetId]));
      const remove = members.flatMap((member) => (member.targetId === null ? [member.id] : []));
      if (add.length === 0 && remove.length === 0) return;
      const tx = redis.multi();
      if (add.length > 0) tx.hset(keys.delivered(groupId), ...add);
      if (remove.length > 0) tx.hdel(keys.delivered(groupId), ...remove);
      await tx.exec();
    },

    async addDependant(ref, dependant) {
      await redis.sadd(keys.dependants(ref.type, ref.id), `${dependant.type}:${dependant.id}`);
    },

    async dependantsOf(ref) {
      return dependantRefs(await redis.smembers(keys.dependants(ref.type, ref.id)));
    },

    /** A live resource is left alone: dropping its hash would orphan its index entries. */
    async purge(type, id) {
      const deliveryKeys = [keys.dependants(type, id), ...(type === 'Group' ? [keys.delivered(id)] : [])];
      await scripts.purge([keys.doc(type, id), ...deliveryKeys]);
    },

    async getRevision(type, id) {
      const rev = (await readRecord(redis, keys.doc(type, id)))?.rev;
      return rev === undefined ? null : Number(rev);
    },

    async settleConfirmation(type, id, revision, outcome) {
      // Only a rejection rolls memberships back: then the sets it walks are observed first.
      const group = type === 'Group';
      const observe = outcome.kind === 'rejected' ? { members: group, prevMembers: group, memberOf: true } : null;
      const reply = await withObserved(observe, (observed) => {
        const layout = declareScriptKeys(keys, type, id, { extras: [keys.confirmReply(type, id, revision)], observed });
        return confirmScripts.settle(layout.keys, [
          ...layout.args,
          type,
          id,
          String(revision),
          outcome.kind,
          JSON.stringify(outcome),
          JSON.stringify({ kind: 'transient' } satisfies ConfirmOutcome),
          CONFIRM_REPLY_TTL_MS,
          keys.confirmChannel,
        ]);
      });
      switch (reply[0]) {
        case 'restored':
          return { kind: 'restored', revision: Number(reply[1]) };
        case 'removed': {
          const groups: Array<{ id: string; revision: number }> = [];
          for (let i = 1; i + 1 < reply.length; i += 2) groups.push({ id: String(reply[i]), revision: Number(reply[i + 1]) });
          return { kind: 'removed', groups };
        }
        case 'replied':
          return { kind: 'replied' };
        default:
          return { kind: 'none' };
      }
    },

    async collectConfirmation(type, id, revision) {
      const layout = declareScriptKeys(keys, type, id, { extras: [keys.confirmReply(type, id, revision)] });
      const reply = asReply(await confirmScripts.collect(layout.keys, [...layout.args, type, id, String(revision)]));
      return reply[0] === 'reply' ? (JSON.parse(String(reply[1])) as ConfirmOutcome) : undefined;
    },

    async clear() {
      await deleteMatching(redis, keys.pattern);
    },
  };
}

function toRow(id: string, fields: RecordFields | null): ResourceRow {
  return { id, doc: fields?.doc ?? null, rev: fields?.rev ?? null, deleted: fields?.del !== undefined, modified: fields?.mod ?? null };
}

function withMemberRows(row: ResourceRow, members: string[], details: Record<string, string>): ResourceRow {
  row.members = members.sort();
  if (Object.keys(details).length > 0) row.memberDetails = details;
  return row;
}

function requireId(doc: ScimResource): string {
  if (typeof doc.id !== 'string' || doc.id.length === 0) throw new TypeError('doc.id must be set before create');
  return doc.id;
}

/** Index entries as the scripts read them: a count, then `mode, attribute, value` triples (mode `u` or `m`). */
function entryArgs(type: ResourceType, doc: ScimResource): string[] {
  const entries = indexEntries(type, doc);
  return [String(entries.length * 3), ...entries.flatMap((entry) => [entry.mode === 'unique' ? 'u' : 'm', entry.attribute, entry.value])];
}

function memberChange(type: ResourceType, options: WriteOptions | undefined): MemberChange | undefined {
  const change = options?.members;
  if (change && type !== 'Group') throw new TypeError('only groups have members');
  return change;
}

/** The member ids a change may add or remove (their keys are declared to the script). */
function changedMembers(change: MemberChange | undefined): string[] {
  if (!change) return [];
  return change.kind === 'set' ? change.members : [...change.add, ...change.remove];
}

/** Membership change as the scripts read it: a mode, the add list, the remove list, the details. */
function memberArgs(change: MemberChange | undefined): string[] {
  if (!change) return ['none', '0', '0', '0'];
  const details = listArgs(Object.entries(change.details ?? {}).flatMap(([id, detail]) => [id, JSON.stringify(detail)]));
  if (change.kind === 'set') return ['set', ...listArgs(change.members), ...listArgs([]), ...details];
  return ['delta', ...listArgs(change.add), ...listArgs(change.remove), ...details];
}

/** The document with `meta.lastModified` from a later membership-only change, if there was one. */
function withModified(doc: ScimResource, modified: string | null): ScimResource {
  if (modified === null || modified === '' || !doc.meta) return doc;
  return { ...doc, meta: { ...doc.meta, lastModified: modified } };
}

function parseDetails(raw: Record<string, string>): Record<string, MemberDetails> {
  return Object.fromEntries(Object.entries(raw).map(([id, json]) => [id, JSON.parse(json) as MemberDetails]));
}

/** How long a first-attempt report waits to be collected by its writer. */
/**
 * An outbox entry is `<Type>:<id>:<revision>`, then optionally a tab and `{"r": requestId,
 * "n": name}` (the write's note). Ids are the bridge's own UUIDs: they hold no `:` or tab.
 */
function noteArgs(note: OutboxNote | undefined): [string, string] {
  if (!note || (note.requestId === undefined && note.name === undefined)) return ['', ''];
  const own = `\t${JSON.stringify({ ...(note.requestId !== undefined ? { r: note.requestId } : {}), ...(note.name !== undefined ? { n: note.name } : {}) })}`;
  return [own, note.requestId !== undefined ? `\t${JSON.stringify({ r: note.requestId })}` : ''];
}

function historyArgs(history: HistoryAppend | undefined): [string, string, string] {
  return history ? [history.entry, String(history.maxEntries), String(history.maxAgeMs)] : ['', '0', '0'];
}

function parseOutboxMember(member: string): OutboxEntry[] {
  const tab = member.indexOf('\t');
  const base = tab < 0 ? member : member.slice(0, tab);
  const first = base.indexOf(':');
  const last = base.lastIndexOf(':');
  const type = base.slice(0, first);
  const revision = Number(base.slice(last + 1));
  if ((type !== 'User' && type !== 'Group') || last <= first || !Number.isInteger(revision)) return [];
  const entry: OutboxEntry = { type, id: base.slice(first + 1, last), revision, member };
  if (tab >= 0) {
    try {
      const note = JSON.parse(member.slice(tab + 1)) as { r?: unknown; n?: unknown };
      if (typeof note.r === 'string') entry.requestId = note.r;
      if (typeof note.n === 'string') entry.name = note.n;
    } catch {
      // A note that does not parse only costs the job its request id and name.
    }
  }
  return [entry];
}

const CONFIRM_REPLY_TTL_MS = 60_000;

function confirmArg(options: WriteOptions | undefined): string {
  return options?.confirmTtlMs === undefined ? '' : String(Math.max(1, Math.ceil(options.confirmTtlMs)));
}

function listArgs(values: string[]): string[] {
  return [String(values.length), ...values];
}

function throwOnConflict(reply: Reply): void {
  if (reply[0] === 'conflict') throw new UniquenessError(reply[1] as Extract<IndexedAttribute, 'userName' | 'displayName'>);
  if (reply[0] !== 'ok') throw new Error(`unexpected store script reply ${String(reply[0])}`);
}

function asReply(value: unknown): Reply {
  if (!Array.isArray(value)) throw new Error('unexpected store script reply');
  return value as Reply;
}

/** Unwraps MULTI results, rethrowing the first command error as it came from Redis. */
function execResults(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('store transaction was aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/** Entries of a dependants set (`<Type>:<id>`, see addDependant) as references, sorted. */
function dependantRefs(entries: string[]): Array<{ type: ResourceType; id: string }> {
  return entries.sort().flatMap((entry) => {
    const [type, ...rest] = entry.split(':');
    return type === 'User' || type === 'Group' ? [{ type, id: rest.join(':') }] : [];
  });
}
