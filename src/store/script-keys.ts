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
 * saved for a rollback) are sent as observed: the script checks each is still exactly that
 * (count and every id) before it writes anything, and otherwise answers `{'stale', …}` with
 * what the sets hold now; the client retries with those (`withObserved`). The first attempt
 * guesses every set empty (`firstGuess`), which is right for a new group and for a resource in
 * no group, and costs one script round trip otherwise, as reading the sets first would.
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

export interface ObservedWhat {
  members?: boolean;
  prevMembers?: boolean;
  memberOf?: boolean;
}

/** The first attempt's sets: each one asked for, empty. */
export function firstGuess(what: ObservedWhat): ObservedSets {
  const observed: ObservedSets = {};
  if (what.members) observed.members = [];
  if (what.prevMembers) observed.prevMembers = [];
  if (what.memberOf) observed.memberOf = [];
  return observed;
}

/** The sets as a `{'stale', …}` reply gives them (count and ids per set, -1 = not observed). */
export function observedFromStale(reply: ReadonlyArray<unknown>): ObservedSets {
  const observed: ObservedSets = {};
  let at = 1;
  for (const name of ['members', 'prevMembers', 'memberOf'] as const) {
    const count = Number(reply[at++]);
    if (!Number.isInteger(count) || count < 0) continue;
    observed[name] = reply.slice(at, at + count).map(String);
    at += count;
  }
  return observed;
}
