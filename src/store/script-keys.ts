import type { ResourceType } from '../scim/types.js';
import { INDEXES } from './index-entries.js';
import type { StoreKeys } from './keys.js';

/**
 * The keys a store script may touch, declared in KEYS as Redis requires of scripts (the Lua
 * side, `LAYOUT` in `scripts.ts`, reads key names from KEYS only and builds none):
 *
 * | KEYS                         | what                                                          |
 * |------------------------------|---------------------------------------------------------------|
 * | 1–11 (`HEAD`)                | the resource's doc, order, seq, outbox, confirm, prevmembers, members, memberDetails, memberOf, delivered, prevdetails |
 * | then the script's own extras | e.g. the confirm reply list of one revision                   |
 * | then one per index attribute | `ix:<attribute>` of the type, in `INDEXES` order               |
 * | then 3 per member            | `memberOf`, User doc, Group doc of each member id a script may add or remove |
 * | then 3 per parent group      | `members`, `memberDetails`, Group doc of each group the resource is in |
 *
 * ARGV starts with the lists the Lua side needs to find those keys (index attribute names,
 * member ids, parent ids), then the observed sets below, then the script's own arguments.
 *
 * Sets a script reads to find keys (a group's members, the groups a resource is in, the members
 * saved for a rollback) are read by the client first and sent as observed: the script checks
 * each is still exactly that (count and every id) before it writes anything, and answers
 * `{'stale'}` otherwise; the client then reads again and retries (`withObserved`).
 */
export interface ObservedSets {
  /** `members` of the resource (a group), as read; undefined = not read, the script must not need it. */
  members?: string[];
  prevMembers?: string[];
  /** `memberOf` of the resource: the groups it is in. */
  memberOf?: string[];
}

export interface ScriptKeys {
  keys: string[];
  args: string[];
}

/** Number of fixed keys at the start of KEYS (see the table above). */
export const HEAD_KEYS = 11;

export function declareScriptKeys(
  keys: StoreKeys,
  type: ResourceType,
  id: string,
  options: { extras?: string[]; members?: Iterable<string>; observed?: ObservedSets } = {},
): ScriptKeys {
  const observed = options.observed ?? {};
  const head = [
    keys.doc(type, id),
    keys.order(type),
    keys.seq(type),
    keys.outbox,
    keys.confirm(type, id),
    keys.prevMembers(id),
    keys.members(id),
    keys.memberDetails(id),
    keys.memberOf(id),
    keys.delivered(id),
    keys.prevMemberDetails(id),
  ];
  const attributes = Object.keys(INDEXES[type]);
  const members = [...new Set([...(options.members ?? []), ...(observed.members ?? []), ...(observed.prevMembers ?? [])])];
  const parents = [...new Set(observed.memberOf ?? [])];
  return {
    keys: [
      ...head,
      ...(options.extras ?? []),
      ...attributes.map((attribute) => keys.index(type, attribute as Parameters<StoreKeys['index']>[1])),
      ...members.flatMap((member) => [keys.memberOf(member), keys.doc('User', member), keys.doc('Group', member)]),
      ...parents.flatMap((group) => [keys.members(group), keys.memberDetails(group), keys.doc('Group', group)]),
    ],
    args: [
      ...list(attributes),
      ...list(members),
      ...list(parents),
      ...observedList(observed.members),
      ...observedList(observed.prevMembers),
      ...observedList(observed.memberOf),
    ],
  };
}

function list(values: string[]): string[] {
  return [String(values.length), ...values];
}

function observedList(values: string[] | undefined): string[] {
  return values === undefined ? ['-1'] : list([...new Set(values)]);
}

/** How often a script is retried when a set it depends on changed between the read and the script. */
export const MAX_SCRIPT_ATTEMPTS = 10;

/** The sets of `what` read in one round trip (commands sent back to back), as the scripts expect them. */
export async function readObserved(
  redis: { smembers(key: string): Promise<string[]> },
  keys: StoreKeys,
  id: string,
  what: { members?: boolean; prevMembers?: boolean; memberOf?: boolean },
): Promise<ObservedSets> {
  const [members, prevMembers, memberOf] = await Promise.all([
    what.members ? redis.smembers(keys.members(id)) : undefined,
    what.prevMembers ? redis.smembers(keys.prevMembers(id)) : undefined,
    what.memberOf ? redis.smembers(keys.memberOf(id)) : undefined,
  ]);
  const observed: ObservedSets = {};
  if (members) observed.members = members;
  if (prevMembers) observed.prevMembers = prevMembers;
  if (memberOf) observed.memberOf = memberOf;
  return observed;
}
