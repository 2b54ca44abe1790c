import type { Redis } from 'ioredis';
import { HEAD_KEYS } from './script-keys.js';

/**
 * The store's Lua scripts. Each write is one script, so Redis applies the revision bump, the
 * document, every index and the membership sets as one atomic step: no other client can see
 * (or interleave with) half a write.
 *
 * Kept as TypeScript strings rather than `.lua` files so that `tsc` output runs without a copy
 * step. Scripts return flat arrays of strings and integers only: those read the same under
 * RESP2 and RESP3, which ioredis 6 negotiates by default.
 * @see https://redis.io/docs/latest/develop/programmability/eval-intro/
 */

/**
 * Helpers shared by the write scripts. Every key comes from KEYS, laid out by
 * `declareScriptKeys` (`script-keys.ts`): the fixed head, the script's extras, the index keys,
 * then the keys of each member and parent group named in ARGV. No key name is built here.
 * `read_layout(first)` reads ARGV's layout part (`first` = KEYS position of the first index
 * key); the script's own arguments follow it (`next_arg`).
 * Index entries travel as flat triples `mode, attribute, value` (mode `u` unique or `m` multi,
 * see `index-entries.ts`) and are kept in the resource record (`ix`) so a later write removes
 * exactly what this one added.
 */
export const RECORD_LIB = `
local records = {}
local RECORD_FIELDS = {'rev', 'del', 'mod', 'prevof', 'prevmembers', 'prevdetails', 'ix', 'previx', 'delivery', 'doc', 'prevdoc'}
local RECORD_FIELD = {}
for _, name in ipairs(RECORD_FIELDS) do RECORD_FIELD[name] = true end

local function parse_record(raw)
  local fields, start, name = {}, 1, nil
  while true do
    local stop = string.find(raw, '\\31', start, true)
    local part = string.sub(raw, start, stop and stop - 1 or -1)
    if name then
      fields[name] = part
      name = nil
    else
      name = part
    end
    if not stop then return fields end
    start = stop + 1
  end
end

-- A resource's record, read once per script; fields is nil when there is none.
local function record(key)
  local r = records[key]
  if r then return r end
  r = {dirty = false}
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' and raw.err then
    -- A hash written by a release before records: read as one, stored as a record when written.
    local flat = redis.call('HGETALL', key)
    r.fields = {}
    for i = 1, #flat, 2 do r.fields[flat[i]] = flat[i + 1] end
  elseif raw then
    r.fields = parse_record(raw)
  end
  records[key] = r
  return r
end

local function record_get(key, field)
  local fields = record(key).fields
  return fields and fields[field]
end

local function record_exists(key)
  return record(key).fields ~= nil
end

-- record_set(key, field, value, field, value, ...) creates the record if there is none.
local function record_set(key, ...)
  local r = record(key)
  r.fields = r.fields or {}
  local args = {...}
  for i = 1, #args, 2 do
    local field, value = args[i], args[i + 1]
    if not RECORD_FIELD[field] then error('store script: unknown record field ' .. field) end
    if value == nil then error('store script: no value for record field ' .. field) end
    value = tostring(value)
    if string.find(value, '\\31', 1, true) then error('store script: record field ' .. field .. ' holds the separator') end
    r.fields[field] = value
  end
  r.dirty = true
end

local function record_del(key, ...)
  local r = record(key)
  if not r.fields then return end
  for _, field in ipairs({...}) do r.fields[field] = nil end
  r.dirty = true
end

local function record_incr(key, field)
  local value = (tonumber(record_get(key, field)) or 0) + 1
  record_set(key, field, value)
  return value
end

-- After the script DELeted the key itself.
local function record_drop(key)
  records[key] = {dirty = false}
end

-- Writes every changed record back, fields in a fixed order; called once, when the script ends.
local function record_flush()
  for key, r in pairs(records) do
    if r.dirty and r.fields then
      local parts = {}
      for _, name in ipairs(RECORD_FIELDS) do
        local value = r.fields[name]
        if value then
          parts[#parts + 1] = name
          parts[#parts + 1] = value
        end
      end
      redis.call('SET', key, table.concat(parts, '\\31'), 'KEEPTTL')
    end
  end
end
`;

/**
 * A store script: the shared helpers, then the script's body as a function, whose answer is
 * returned after the records it changed are written back (`record_flush`).
 */
export function storeScript(body: string, lib = LIB): string {
  return `${lib}
local function main()
${body}
end
local result = main()
record_flush()
return result
`;
}

export const LIB = `${RECORD_LIB}
local pos = 0

local function next_arg()
  pos = pos + 1
  return ARGV[pos]
end

local function next_list()
  local list = {}
  for i = 1, tonumber(next_arg()) do list[i] = next_arg() end
  return list
end

-- The resource's own keys (KEYS 1-11, script-keys.ts HEAD).
local K = {
  doc = KEYS[1], order = KEYS[2], seq = KEYS[3], outbox = KEYS[4], confirm = KEYS[5],
  prev_members = KEYS[6], members = KEYS[7], member_details = KEYS[8], member_of = KEYS[9],
  delivered = KEYS[10], prev_member_details = KEYS[11],
}
local index_keys, member_keys, parent_keys, observed = {}, {}, {}, {}

local function next_observed()
  local n = tonumber(next_arg())
  if n < 0 then return nil end
  local list = {}
  for i = 1, n do list[i] = next_arg() end
  return list
end

local function read_layout(first)
  local k = first
  for _, attribute in ipairs(next_list()) do
    index_keys[attribute] = KEYS[k]
    k = k + 1
  end
  for _, member_id in ipairs(next_list()) do
    member_keys[member_id] = {member_of = KEYS[k], user = KEYS[k + 1], group = KEYS[k + 2]}
    k = k + 3
  end
  for _, group_id in ipairs(next_list()) do
    parent_keys[group_id] = {members = KEYS[k], details = KEYS[k + 1], doc = KEYS[k + 2]}
    k = k + 3
  end
  observed.members, observed.prev_members, observed.member_of = next_observed(), next_observed(), next_observed()
end

-- A key the client did not declare is a bug on the client side: fail before touching anything.
local function index_key(attribute)
  return index_keys[attribute] or error('store script: index key of ' .. attribute .. ' not declared')
end
local function member(member_id)
  return member_keys[member_id] or error('store script: keys of member ' .. member_id .. ' not declared')
end
local function parent(group_id)
  return parent_keys[group_id] or error('store script: keys of group ' .. group_id .. ' not declared')
end
local function observed_set(name)
  return observed[name] or error('store script: set ' .. name .. ' not observed')
end

-- True when every set the client observed (and sent in ARGV) is still exactly that. A script
-- checks this before its first write and answers stale() otherwise (the client retries with
-- what the sets hold now), so the keys it derived from those sets are the ones to touch.
local OBSERVED_SETS = {{'members', K.members}, {'prev_members', K.prev_members}, {'member_of', K.member_of}}

local function observed_unchanged()
  for _, set in ipairs(OBSERVED_SETS) do
    local name, key = set[1], set[2]
    local ids = observed[name]
    if ids then
      if redis.call('SCARD', key) ~= #ids then return false end
      for _, id in ipairs(ids) do
        if redis.call('SISMEMBER', key, id) == 0 then return false end
      end
    end
  end
  return true
end

-- {'stale', then each set in OBSERVED_SETS order as a count and its ids (-1 = not observed)}.
local function stale()
  local reply = {'stale'}
  for _, set in ipairs(OBSERVED_SETS) do
    if observed[set[1]] then
      local ids = redis.call('SMEMBERS', set[2])
      reply[#reply + 1] = #ids
      for _, id in ipairs(ids) do reply[#reply + 1] = id end
    else
      reply[#reply + 1] = -1
    end
  end
  return reply
end

-- Member details (display, type) travel as a flat list of id, JSON pairs.
local function next_details()
  local details = {}
  local list = next_list()
  for i = 1, #list, 2 do details[list[i]] = list[i + 1] end
  return details
end

-- The outbox records every accepted write until the outbox relay has queued its delivery job
-- (see ResourceStore.outboxClaim): a 2xx never depends on a second round trip. Scored by
-- Redis time in microseconds (when it is due), so every process agrees on it. A write's own
-- entry carries its note (request id and name, set by read_notes); the entries of other groups
-- it changes carry only the request id.
local outbox_note, outbox_note_others = '', ''

local function read_notes()
  outbox_note, outbox_note_others = next_arg() or '', next_arg() or ''
end

-- A timeline append made with the write (ops history): entry ('' = none), max entries, max age
-- (ms). The list is KEYS[HEAD + 1], declared as the script's extra key.
local function next_history()
  return next_arg() or '', next_arg() or '0', next_arg() or '0'
end

local function append_history(key, entry, max_entries, max_age, revision)
  if entry == '' then return end
  if revision then
    -- A delete's or a membership-only update's event: the revision assigned here goes where the
    -- client left U+001F (REVISION_SLOT in types.ts).
    local slot = string.find(entry, '\\31', 1, true)
    if slot then entry = string.sub(entry, 1, slot - 1) .. revision .. string.sub(entry, slot + 1) end
  end
  redis.call('RPUSH', key, entry)
  redis.call('LTRIM', key, -tonumber(max_entries), -1)
  redis.call('PEXPIRE', key, max_age)
end

local function outbox_add(type, id, revision, own)
  local now = redis.call('TIME')
  local note = own and outbox_note or outbox_note_others
  redis.call('ZADD', K.outbox, tonumber(now[1]) * 1000000 + tonumber(now[2]), type .. ':' .. id .. ':' .. revision .. note)
end

local function is_live(key)
  return record_get(key, 'doc') ~= nil and record_get(key, 'del') == nil
end

-- An entry's mode: u (unique) or m (multi); a record of an older release spells them out.
local function is_unique(mode)
  return mode == 'u' or mode == 'unique'
end

local function taken_unique(id, entries)
  for i = 1, #entries, 3 do
    if is_unique(entries[i]) then
      local owner = redis.call('HGET', index_key(entries[i + 1]), entries[i + 2])
      if owner and owner ~= id then return entries[i + 1] end
    end
  end
  return nil
end

local function add_entries(id, entries)
  for i = 1, #entries, 3 do
    local key, value = index_key(entries[i + 1]), entries[i + 2]
    if is_unique(entries[i]) then
      redis.call('HSET', key, value, id)
    else
      local current = redis.call('HGET', key, value)
      local ids = current and cjson.decode(current) or {}
      local present = false
      for _, other in ipairs(ids) do
        if other == id then present = true end
      end
      if not present then
        ids[#ids + 1] = id
        redis.call('HSET', key, value, cjson.encode(ids))
      end
    end
  end
end

local function remove_entries(id, entries)
  for i = 1, #entries, 3 do
    local key, value = index_key(entries[i + 1]), entries[i + 2]
    local current = redis.call('HGET', key, value)
    if is_unique(entries[i]) then
      if current == id then redis.call('HDEL', key, value) end
    elseif current then
      local kept = {}
      for _, other in ipairs(cjson.decode(current)) do
        if other ~= id then kept[#kept + 1] = other end
      end
      if #kept == 0 then
        redis.call('HDEL', key, value)
      else
        redis.call('HSET', key, value, cjson.encode(kept))
      end
    end
  end
end

-- Membership changes of the script's own resource (a group, group_id) only.
-- A set (PUT, POST) replaces a member's details; an add keeps them unless new ones are given
-- (details is nil for a rollback restoring members, which keeps what is stored).
local function add_member(group_id, member_id, details, replace_details)
  if member_id == group_id then return end
  local keys = member(member_id)
  if not (is_live(keys.user) or is_live(keys.group)) then return end
  redis.call('SADD', K.members, member_id)
  redis.call('SADD', keys.member_of, group_id)
  if details and details[member_id] then
    redis.call('HSET', K.member_details, member_id, details[member_id])
  elseif replace_details then
    redis.call('HDEL', K.member_details, member_id)
  end
end

local function remove_member(group_id, member_id)
  redis.call('SREM', K.members, member_id)
  redis.call('SREM', member(member_id).member_of, group_id)
  redis.call('HDEL', K.member_details, member_id)
end

-- First-attempt confirmation (see ResourceStore.settleConfirmation): a write that waits for its
-- first delivery keeps the state it replaced in its record (prevdoc, previx, prevof =
-- the revision it is the previous of, prevmembers = 1 when the group's member set was copied to
-- P:Group:prevmembers:<id>) and marks the waiter in P:confirm:<Type>:<id> = revision.
local function clear_prev()
  if record_get(K.doc, 'prevof') then
    record_del(K.doc, 'prevdoc', 'previx', 'prevof', 'prevmembers', 'prevdetails')
    redis.call('DEL', K.prev_members, K.prev_member_details)
  end
end

local function keep_prev(type, member_mode)
  clear_prev()
  if record_get(K.doc, 'doc') then
    record_set(K.doc, 'prevdoc', record_get(K.doc, 'doc'), 'previx', record_get(K.doc, 'ix') or '[]')
  end
  if type == 'Group' and member_mode ~= 'none' then
    redis.call('COPY', K.members, K.prev_members)
    -- The members' details too (display, type), so a rollback gives back what it removes.
    redis.call('COPY', K.member_details, K.prev_member_details)
    record_set(K.doc, 'prevmembers', 1, 'prevdetails', 1)
  end
end

local function await_confirm(revision, ttl)
  record_set(K.doc, 'prevof', revision)
  redis.call('SET', K.confirm, revision, 'PX', ttl)
end

-- mode 'set' removes the current members not wanted: the client observed them (members).
local function apply_members(group_id, mode, add, remove, details)
  if mode == 'set' then
    local wanted = {}
    for _, member_id in ipairs(add) do wanted[member_id] = true end
    for _, member_id in ipairs(observed_set('members')) do
      if not wanted[member_id] then remove_member(group_id, member_id) end
    end
  elseif mode == 'delta' then
    for _, member_id in ipairs(remove) do remove_member(group_id, member_id) end
  end
  for _, member_id in ipairs(add) do add_member(group_id, member_id, details, mode == 'set') end
end

-- Takes the resource out of the memberships the client observed: a group's members lose it
-- as a group, the groups it is in lose it as a member (each gets a new revision, in the
-- outbox). Returns the ids of those groups; on_group(group id, revision) sees each.
local function leave_memberships(type, id, on_group)
  if type == 'Group' then
    for _, member_id in ipairs(observed_set('members')) do
      redis.call('SREM', member(member_id).member_of, id)
    end
  end
  local groups = {}
  for _, group_id in ipairs(observed_set('member_of')) do
    local keys = parent(group_id)
    redis.call('SREM', keys.members, id)
    redis.call('HDEL', keys.details, id)
    local revision = record_incr(keys.doc, 'rev')
    outbox_add('Group', group_id, revision)
    on_group(group_id, revision)
    groups[#groups + 1] = group_id
  end
  redis.call('DEL', K.member_of)
  return groups
end
`;

/**
 * KEYS and the start of ARGV: `declareScriptKeys` (observed: members of a group written with
 * member mode set; extra key: the timeline list of a history append, or the doc key when none).
 * Then ARGV: type, id, doc, entries, member mode, add, remove, details, confirm ttl ('' = no
 * first-attempt wait), outbox note, note for other groups ('' = none), history entry ('' = none),
 * its max entries and max age.
 * Returns {'ok', revision} | {'conflict', attribute} | {'exists'} | {'stale', sets…}.
 */
const CREATE = storeScript(`
read_layout(${HEAD_KEYS} + 2)
local type, id, doc = next_arg(), next_arg(), next_arg()
local entries = next_list()
local member_mode, add, remove, details = next_arg(), next_list(), next_list(), next_details()
local confirm_ttl = next_arg()
read_notes()
local history, history_max, history_age = next_history()
local key = K.doc

if not observed_unchanged() then return stale() end
if record_exists(key) then return {'exists'} end
local taken = taken_unique(id, entries)
if taken then return {'conflict', taken} end

record_set(key, 'doc', doc, 'rev', 1, 'ix', cjson.encode(entries))
redis.call('ZADD', K.order, redis.call('INCR', K.seq), id)
add_entries(id, entries)
apply_members(id, member_mode, add, remove, details)
outbox_add(type, id, 1, true)
if confirm_ttl and confirm_ttl ~= '' then await_confirm(1, confirm_ttl) end
append_history(KEYS[${HEAD_KEYS} + 1], history, history_max, history_age)
return {'ok', 1}
`);

/**
 * KEYS and the start of ARGV: `declareScriptKeys` (observed: members of a group written with
 * member mode set). Then ARGV: type, id, expected revision ('' = none), doc ('' = keep),
 * touched-at ('' = none), entries, member mode, add, remove, details, confirm ttl ('' = no
 * first-attempt wait), outbox note, note for other groups ('' = none), history entry ('' = none;
 * without an expected revision, its U+001F is replaced by the revision assigned here), its max
 * entries and max age (extra key as for create). A write that keeps the document (membership
 * only) records its time in
 * `mod`, which readers lay over `meta.lastModified`; a document write carries its own time and
 * clears `mod`.
 * Returns {'ok', revision} | {'ok', revision, doc, mod} (doc kept) | {'notfound'} | {'revconflict'} |
 * {'conflict', attribute} | {'stale', sets…}.
 */
const UPDATE = storeScript(`
read_layout(${HEAD_KEYS} + 2)
local type, id, expected, doc, touched = next_arg(), next_arg(), next_arg(), next_arg(), next_arg()
local entries = next_list()
local member_mode, add, remove, details = next_arg(), next_list(), next_list(), next_details()
local confirm_ttl = next_arg()
read_notes()
local history, history_max, history_age = next_history()
local confirm = confirm_ttl and confirm_ttl ~= ''
local key = K.doc

if not observed_unchanged() then return stale() end
if not is_live(key) then return {'notfound'} end
if expected ~= '' and tonumber(record_get(key, 'rev')) ~= tonumber(expected) then
  return {'revconflict'}
end
if doc ~= '' then
  local taken = taken_unique(id, entries)
  if taken then return {'conflict', taken} end
end

if confirm then keep_prev(type, member_mode) else clear_prev() end
if doc ~= '' then
  remove_entries(id, cjson.decode(record_get(key, 'ix')))
  add_entries(id, entries)
  record_set(key, 'doc', doc, 'ix', cjson.encode(entries))
  record_del(key, 'mod')
elseif touched ~= '' then
  record_set(key, 'mod', touched)
end
apply_members(id, member_mode, add, remove, details)

local revision = record_incr(key, 'rev')
outbox_add(type, id, revision, true)
if confirm then await_confirm(revision, confirm_ttl) end
append_history(KEYS[${HEAD_KEYS} + 1], history, history_max, history_age, revision)
if doc ~= '' then return {'ok', revision} end
return {'ok', revision, record_get(key, 'doc'), record_get(key, 'mod') or ''}
`);

/**
 * KEYS and the start of ARGV: `declareScriptKeys` (observed: the groups the resource is in and,
 * for a group, its members; extra key: the timeline list of a history append, or the doc key
 * when none). Then ARGV: type, id, expected revision ('' = none), outbox note, note for other
 * groups, history entry ('' = none; its revision, known only here, replaces its U+001F), its
 * max entries and max age.
 * Leaves a tombstone (doc, rev, del=1) and takes the resource out of every index, the list order
 * and every membership; each group that lost the resource as a member gets a new revision.
 * Returns {'ok', revision, affected group id...} | {'notfound'} | {'revconflict'} | {'stale', sets…}.
 */
const DELETE = storeScript(`
read_layout(${HEAD_KEYS} + 2)
local type, id, expected = next_arg(), next_arg(), next_arg()
read_notes()
local history, history_max, history_age = next_history()
local key = K.doc

if not observed_unchanged() then return stale() end
if not is_live(key) then return {'notfound'} end
if expected ~= '' and tonumber(record_get(key, 'rev')) ~= tonumber(expected) then
  return {'revconflict'}
end
clear_prev()
remove_entries(id, cjson.decode(record_get(key, 'ix')))
redis.call('ZREM', K.order, id)
record_del(key, 'ix')
record_set(key, 'del', 1)
local result = {'ok', record_incr(key, 'rev')}
outbox_add(type, id, result[2], true)

local groups = leave_memberships(type, id, function() end)
if type == 'Group' then redis.call('DEL', K.members, K.member_details) end
for _, group_id in ipairs(groups) do result[#result + 1] = group_id end
append_history(KEYS[${HEAD_KEYS} + 1], history, history_max, history_age, result[2])
return result
`);

/**
 * KEYS[1] outbox, ARGV[1] limit, ARGV[2] lease (ms). Claims the oldest due entries by moving
 * them `lease` into the future: other relays skip them until then, and if this relay dies they
 * come due again. Returns the claimed members.
 */
const OUTBOX_CLAIM = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local later = now + tonumber(ARGV[2]) * 1000
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', later, member) end
return due
`;

/** KEYS[1] resource record, ARGV[1] state JSON. Never creates a record for a purged resource. */
const SET_DELIVERY_STATE = storeScript(
  `
if not record_exists(KEYS[1]) then return 0 end
record_set(KEYS[1], 'delivery', ARGV[1])
return 1
`,
  RECORD_LIB,
);

/**
 * KEYS[1] resource record, KEYS[2] the sets of groups it is in, KEYS[3] its dependants; ARGV[1]
 * state. SET_DELIVERY_STATE, then both sets as a flat list: {saved (0|1), group count, group ids…,
 * dependant entries…}.
 */
const LINK_DELIVERY_STATE = storeScript(
  `
local saved = 0
if record_exists(KEYS[1]) then
  record_set(KEYS[1], 'delivery', ARGV[1])
  saved = 1
end
local groups = redis.call('SMEMBERS', KEYS[2])
local reply = {saved, #groups}
for _, id in ipairs(groups) do reply[#reply + 1] = id end
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[3])) do reply[#reply + 1] = entry end
return reply
`,
  RECORD_LIB,
);

/** KEYS[1] resource record, KEYS[2..] delivery-side keys. Only a tombstone (or nothing) is purged. */
const PURGE = storeScript(
  `
if record_get(KEYS[1], 'doc') and not record_get(KEYS[1], 'del') then return 0 end
redis.call('DEL', unpack(KEYS))
record_drop(KEYS[1])
return 1
`,
  RECORD_LIB,
);

type ScriptArg = string | number;
export type ScriptCall = (...args: ScriptArg[]) => Promise<unknown>;

/** The scripts bound to one connection; each takes the full key list and its arguments. */
export interface StoreScripts {
  create(keys: string[], args: ScriptArg[]): Promise<unknown>;
  update(keys: string[], args: ScriptArg[]): Promise<unknown>;
  remove(keys: string[], args: ScriptArg[]): Promise<unknown>;
  setDeliveryState(docKey: string, state: string): Promise<unknown>;
  linkDeliveryState(docKey: string, memberOfKey: string, dependantsKey: string, state: string): Promise<unknown>;
  purge(keys: string[]): Promise<unknown>;
  outboxClaim(outboxKey: string, limit: number, leaseMs: number): Promise<unknown>;
}

/** The Lua source of every store script by command name (for tests that check declared keys). */
export const STORE_SCRIPT_SOURCES: Readonly<Record<string, string>> = {
  scimStoreCreate: CREATE,
  scimStoreUpdate: UPDATE,
  scimStoreDelete: DELETE,
  scimStoreSetDeliveryState: SET_DELIVERY_STATE,
  scimStoreLinkDeliveryState: LINK_DELIVERY_STATE,
  scimStorePurge: PURGE,
  scimStoreOutboxClaim: OUTBOX_CLAIM,
};

/**
 * Registers the scripts on the connection with `defineCommand`, which sends EVALSHA and loads
 * the script on a NOSCRIPT reply (after a Redis restart or failover). Safe to call once per store
 * on a shared connection: the names are namespaced and defined only once.
 * @see https://github.com/redis/ioredis#lua-scripting
 */
export function defineStoreScripts(redis: Redis): StoreScripts {
  const create = defineScript(redis, 'scimStoreCreate', CREATE);
  const update = defineScript(redis, 'scimStoreUpdate', UPDATE);
  const remove = defineScript(redis, 'scimStoreDelete', DELETE);
  const setDeliveryState = defineScript(redis, 'scimStoreSetDeliveryState', SET_DELIVERY_STATE, 1);
  const linkDeliveryState = defineScript(redis, 'scimStoreLinkDeliveryState', LINK_DELIVERY_STATE, 3);
  const purge = defineScript(redis, 'scimStorePurge', PURGE);
  const outboxClaim = defineScript(redis, 'scimStoreOutboxClaim', OUTBOX_CLAIM, 1);
  return {
    create: (keys, args) => create(keys.length, ...keys, ...args),
    update: (keys, args) => update(keys.length, ...keys, ...args),
    remove: (keys, args) => remove(keys.length, ...keys, ...args),
    setDeliveryState: (docKey, state) => setDeliveryState(docKey, state),
    linkDeliveryState: (docKey, memberOfKey, dependantsKey, state) => linkDeliveryState(docKey, memberOfKey, dependantsKey, state),
    purge: (keys) => purge(keys.length, ...keys),
    outboxClaim: (outboxKey, limit, leaseMs) => outboxClaim(outboxKey, limit, leaseMs),
  };
}

/** Without `numberOfKeys`, the first argument of each call is the number of keys. */
export function defineScript(redis: Redis, name: string, lua: string, numberOfKeys?: number): ScriptCall {
  const commands = redis as unknown as Record<string, ScriptCall | undefined>;
  if (typeof commands[name] !== 'function') {
    redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  }
  const command = commands[name];
  if (!command) throw new Error(`ioredis did not define ${name}`);
  return command.bind(redis);
}
