import type { ResourceType } from '../scim/types.js';

/**
 * Redis key layout of one store. Every key starts with `<prefix>:` so that one connection can
 * never read another's data and `clear()` can find them all with one SCAN pattern.
 *
 * These functions are the only place key names are made: the Lua scripts (`scripts.ts`) build
 * none, they receive every key they may touch in KEYS (`script-keys.ts`), as Redis requires of
 * scripts. `test/store/redis-store.test.ts` checks this layout against a real write and
 * `test/store/declared-keys.test.ts` that every key a script touches was declared.
 *
 * On Redis Cluster every key of a connection must land in one slot, which the multi-key scripts
 * need: the runtime's store prefix carries a hash tag (`scim-bridge:c:{acme}`, see `storePrefix`).
 * @see https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags
 *
 * | key                              | type   | holds                                                    |
 * |----------------------------------|--------|----------------------------------------------------------|
 * | `P:<Type>:doc:<id>`              | string | the resource's record (`record.ts`): `doc`, `rev`, `ix` (index entries), `del`, `delivery`, `mod` (time of a membership-only change) |
 * | `P:<Type>:order`                 | zset   | live ids, scored by creation sequence                    |
 * | `P:<Type>:seq`                   | string | creation sequence counter                                |
 * | `P:<Type>:ix:<attribute>`        | hash   | folded value → id (unique) or JSON array of ids          |
 * | `P:Group:members:<groupId>`      | set    | member ids                                               |
 * | `P:Group:memberDetails:<groupId>`| hash   | member id → JSON `{display?, type?}` as sent (only if any) |
 * | `P:memberOf:<memberId>`          | set    | ids of the groups the member is in (reverse index)       |
 * | `P:Group:delivered:<groupId>`    | hash   | member id → the member's target id, as delivered         |
 * | `P:<Type>:dependants:<id>`       | set    | `<Type>:<id>` of resources whose `ref:` field names this one |
 * | `P:outbox`                       | zset   | `<Type>:<id>:<revision>` of writes not yet queued, by time (µs) |
 * | `P:confirm:<Type>:<id>`          | string | revision a first-attempt writer waits for (PX); see confirm-scripts.ts |
 * | `P:confirm:<Type>:<id>:<rev>:reply` | list | the worker's report on that revision's first attempt (PX) |
 * | `P:Group:prevmembers:<groupId>`  | set    | members before a write that waits for its first attempt  |
 * | `P:Group:prevdetails:<groupId>`  | hash   | those members' details (display, type), restored with them |
 * | `P:gate:pause`, `P:gate:breaker`, `P:gate:probe` | string, hash, string | the connection's delivery pause and circuit breaker (delivery/connection-gate.ts) |
 *
 * A waited-for write also keeps `prevdoc`, `previx` and `prevof` in the resource record until the
 * wait is settled.
 */
export interface StoreKeys {
  readonly prefix: string;
  doc(type: ResourceType, id: string): string;
  order(type: ResourceType): string;
  seq(type: ResourceType): string;
  index(type: ResourceType, attribute: string): string;
  members(groupId: string): string;
  memberDetails(groupId: string): string;
  memberOf(memberId: string): string;
  delivered(groupId: string): string;
  dependants(type: ResourceType, id: string): string;
  prevMembers(groupId: string): string;
  prevMemberDetails(groupId: string): string;
  confirm(type: ResourceType, id: string): string;
  confirmReply(type: ResourceType, id: string, revision: number | string): string;
  readonly outbox: string;
  /** Pub/sub channel (not a key) on which a settled first attempt is announced. */
  readonly confirmChannel: string;
  /** SCAN pattern matching every key of this store and nothing else. */
  readonly pattern: string;
}

export function createStoreKeys(prefix: string): StoreKeys {
  if (prefix.length === 0) throw new TypeError('store prefix must not be empty');
  return {
    prefix,
    doc: (type, id) => `${prefix}:${type}:doc:${id}`,
    order: (type) => `${prefix}:${type}:order`,
    seq: (type) => `${prefix}:${type}:seq`,
    index: (type, attribute) => `${prefix}:${type}:ix:${attribute}`,
    members: (groupId) => `${prefix}:Group:members:${groupId}`,
    memberDetails: (groupId) => `${prefix}:Group:memberDetails:${groupId}`,
    memberOf: (memberId) => `${prefix}:memberOf:${memberId}`,
    delivered: (groupId) => `${prefix}:Group:delivered:${groupId}`,
    dependants: (type, id) => `${prefix}:${type}:dependants:${id}`,
    prevMembers: (groupId) => `${prefix}:Group:prevmembers:${groupId}`,
    prevMemberDetails: (groupId) => `${prefix}:Group:prevdetails:${groupId}`,
    confirm: (type, id) => `${prefix}:confirm:${type}:${id}`,
    confirmReply: (type, id, revision) => `${prefix}:confirm:${type}:${id}:${revision}:reply`,
    outbox: `${prefix}:outbox`,
    confirmChannel: `${prefix}:confirm`,
    pattern: `${escapeGlob(prefix)}:*`,
  };
}

/** Escapes the glob characters SCAN MATCH understands, so a prefix is matched literally. */
function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&');
}
