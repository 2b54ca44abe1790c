import type { Redis } from 'ioredis';

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
 * Helpers shared by the write scripts. ARGV[1] is the store prefix; key names mirror `keys.ts`.
 * Index entries travel as flat triples `mode, attribute, value` (see `index-entries.ts`) and
 * are kept in the resource hash (`ix`) so a later write removes exactly what this one added.
 */
export const LIB = `
local P = ARGV[1]
local pos = 1

local function next_arg()
  pos = pos + 1
  return ARGV[pos]
end

local function next_list()
  local list = {}
  for i = 1, tonumber(next_arg()) do list[i] = next_arg() end
  return list
end

local function doc_key(type, id) return P .. ':' .. type .. ':doc:' .. id end
local function order_key(type) return P .. ':' .. type .. ':order' end
local function seq_key(type) return P .. ':' .. type .. ':seq' end
local function index_key(type, attribute) return P .. ':' .. type .. ':ix:' .. attribute end
local function members_key(group_id) return P .. ':Group:members:' .. group_id end
local function member_of_key(member_id) return P .. ':memberOf:' .. member_id end
local function member_details_key(group_id) return P .. ':Group:memberDetails:' .. group_id end

-- Member details (display, type) travel as a flat list of id, JSON pairs.
local function next_details()
  local details = {}
  local list = next_list()
  for i = 1, #list, 2 do details[list[i]] = list[i + 1] end
  return details
end

-- The outbox records every accepted write until its delivery job is queued (see
-- ResourceStore.outboxDue): a crash between the write and the enqueue loses nothing.
-- Scored by Redis time in microseconds, so every process agrees on an entry's age.
local function outbox_add(type, id, revision)
  local now = redis.call('TIME')
  redis.call('ZADD', P .. ':outbox', tonumber(now[1]) * 1000000 + tonumber(now[2]), type .. ':' .. id .. ':' .. revision)
end

local function is_live(key)
  return redis.call('HEXISTS', key, 'doc') == 1 and redis.call('HEXISTS', key, 'del') == 0
end

local function taken_unique(type, id, entries)
  for i = 1, #entries, 3 do
    if entries[i] == 'unique' then
      local owner = redis.call('HGET', index_key(type, entries[i + 1]), entries[i + 2])
      if owner and owner ~= id then return entries[i + 1] end
    end
  end
  return nil
end

local function add_entries(type, id, entries)
  for i = 1, #entries, 3 do
    local key, value = index_key(type, entries[i + 1]), entries[i + 2]
    if entries[i] == 'unique' then
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

local function remove_entries(type, id, entries)
  for i = 1, #entries, 3 do
    local key, value = index_key(type, entries[i + 1]), entries[i + 2]
    local current = redis.call('HGET', key, value)
    if entries[i] == 'unique' then
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

-- A set (PUT, POST) replaces a member's details; an add keeps them unless new ones are given
-- (details is nil for a rollback restoring members, which keeps what is stored).
local function add_member(group_id, member_id, details, replace_details)
  if member_id == group_id then return end
  if not (is_live(doc_key('User', member_id)) or is_live(doc_key('Group', member_id))) then return end
  redis.call('SADD', members_key(group_id), member_id)
  redis.call('SADD', member_of_key(member_id), group_id)
  if details and details[member_id] then
    redis.call('HSET', member_details_key(group_id), member_id, details[member_id])
  elseif replace_details then
    redis.call('HDEL', member_details_key(group_id), member_id)
  end
end

local function remove_member(group_id, member_id)
  redis.call('SREM', members_key(group_id), member_id)
  redis.call('SREM', member_of_key(member_id), group_id)
  redis.call('HDEL', member_details_key(group_id), member_id)
end

-- First-attempt confirmation (see ResourceStore.settleConfirmation): a write that waits for its
-- first delivery keeps the state it replaced in its resource hash (prevdoc, previx, prevof =
-- the revision it is the previous of, prevmembers = 1 when the group's member set was copied to
-- P:Group:prevmembers:<id>) and marks the waiter in P:confirm:<Type>:<id> = revision.
local function prev_members_key(group_id) return P .. ':Group:prevmembers:' .. group_id end
local function confirm_key(type, id) return P .. ':confirm:' .. type .. ':' .. id end

local function clear_prev(key, id)
  if redis.call('HEXISTS', key, 'prevof') == 1 then
    redis.call('HDEL', key, 'prevdoc', 'previx', 'prevof', 'prevmembers')
    redis.call('DEL', prev_members_key(id))
  end
end

local function keep_prev(key, type, id, member_mode)
  clear_prev(key, id)
  if redis.call('HEXISTS', key, 'doc') == 1 then
    redis.call('HSET', key, 'prevdoc', redis.call('HGET', key, 'doc'), 'previx', redis.call('HGET', key, 'ix'))
  end
  if type == 'Group' and member_mode ~= 'none' then
    redis.call('COPY', members_key(id), prev_members_key(id))
    redis.call('HSET', key, 'prevmembers', 1)
  end
end

local function await_confirm(key, type, id, revision, ttl)
  redis.call('HSET', key, 'prevof', revision)
  redis.call('SET', confirm_key(type, id), revision, 'PX', ttl)
end

local function apply_members(group_id, mode, add, remove, details)
  if mode == 'set' then
    local wanted = {}
    for _, member_id in ipairs(add) do wanted[member_id] = true end
    for _, member_id in ipairs(redis.call('SMEMBERS', members_key(group_id))) do
      if not wanted[member_id] then remove_member(group_id, member_id) end
    end
  elseif mode == 'delta' then
    for _, member_id in ipairs(remove) do remove_member(group_id, member_id) end
  end
  for _, member_id in ipairs(add) do add_member(group_id, member_id, details, mode == 'set') end
end
`;

/**
 * KEYS[1] resource hash. ARGV: prefix, type, id, doc, entries, member mode, add, remove, details,
 * confirm ttl ('' or absent = no first-attempt wait).
 * Returns {'ok', revision} | {'conflict', attribute} | {'exists'}.
 */
const CREATE = `${LIB}
local type, id, doc = next_arg(), next_arg(), next_arg()
local entries = next_list()
local member_mode, add, remove, details = next_arg(), next_list(), next_list(), next_details()
local confirm_ttl = next_arg()
local key = KEYS[1]

if redis.call('EXISTS', key) == 1 then return {'exists'} end
local taken = taken_unique(type, id, entries)
if taken then return {'conflict', taken} end

redis.call('HSET', key, 'doc', doc, 'rev', 1, 'ix', cjson.encode(entries))
redis.call('ZADD', order_key(type), redis.call('INCR', seq_key(type)), id)
add_entries(type, id, entries)
apply_members(id, member_mode, add, remove, details)
outbox_add(type, id, 1)
if confirm_ttl and confirm_ttl ~= '' then await_confirm(key, type, id, 1, confirm_ttl) end
return {'ok', 1}
`;

/**
 * KEYS[1] resource hash. ARGV: prefix, type, id, expected revision ('' = none), doc ('' = keep),
 * touched-at ('' = none), entries, member mode, add, remove, details, confirm ttl ('' or absent =
 * no first-attempt wait). A write that keeps the document (membership only) records its time in
 * `mod`, which readers lay over `meta.lastModified`; a document write carries its own time and
 * clears `mod`.
 * Returns {'ok', revision} | {'ok', revision, doc, mod} (doc kept) | {'notfound'} | {'revconflict'} |
 * {'conflict', attribute}.
 */
const UPDATE = `${LIB}
local type, id, expected, doc, touched = next_arg(), next_arg(), next_arg(), next_arg(), next_arg()
local entries = next_list()
local member_mode, add, remove, details = next_arg(), next_list(), next_list(), next_details()
local confirm_ttl = next_arg()
local confirm = confirm_ttl and confirm_ttl ~= ''
local key = KEYS[1]

if not is_live(key) then return {'notfound'} end
if expected ~= '' and tonumber(redis.call('HGET', key, 'rev')) ~= tonumber(expected) then
  return {'revconflict'}
end
if doc ~= '' then
  local taken = taken_unique(type, id, entries)
  if taken then return {'conflict', taken} end
end

if confirm then keep_prev(key, type, id, member_mode) else clear_prev(key, id) end
if doc ~= '' then
  remove_entries(type, id, cjson.decode(redis.call('HGET', key, 'ix')))
  add_entries(type, id, entries)
  redis.call('HSET', key, 'doc', doc, 'ix', cjson.encode(entries))
  redis.call('HDEL', key, 'mod')
elseif touched ~= '' then
  redis.call('HSET', key, 'mod', touched)
end
apply_members(id, member_mode, add, remove, details)

local revision = redis.call('HINCRBY', key, 'rev', 1)
outbox_add(type, id, revision)
if confirm then await_confirm(key, type, id, revision, confirm_ttl) end
if doc ~= '' then return {'ok', revision} end
return {'ok', revision, redis.call('HGET', key, 'doc'), redis.call('HGET', key, 'mod') or ''}
`;

/**
 * KEYS[1] resource hash. ARGV: prefix, type, id, expected revision ('' = none).
 * Leaves a tombstone (doc, rev, del=1) and takes the resource out of every index, the list order
 * and every membership; each group that lost the resource as a member gets a new revision.
 * Returns {'ok', revision, affected group id...} | {'notfound'} | {'revconflict'}.
 */
const DELETE = `${LIB}
local type, id, expected = next_arg(), next_arg(), next_arg()
local key = KEYS[1]

if not is_live(key) then return {'notfound'} end
if expected ~= '' and tonumber(redis.call('HGET', key, 'rev')) ~= tonumber(expected) then
  return {'revconflict'}
end
clear_prev(key, id)
remove_entries(type, id, cjson.decode(redis.call('HGET', key, 'ix')))
redis.call('ZREM', order_key(type), id)
redis.call('HDEL', key, 'ix')
redis.call('HSET', key, 'del', 1)
local result = {'ok', redis.call('HINCRBY', key, 'rev', 1)}
outbox_add(type, id, result[2])

if type == 'Group' then
  for _, member_id in ipairs(redis.call('SMEMBERS', members_key(id))) do
    redis.call('SREM', member_of_key(member_id), id)
  end
  redis.call('DEL', members_key(id), member_details_key(id))
end
for _, group_id in ipairs(redis.call('SMEMBERS', member_of_key(id))) do
  redis.call('SREM', members_key(group_id), id)
  redis.call('HDEL', member_details_key(group_id), id)
  outbox_add('Group', group_id, redis.call('HINCRBY', doc_key('Group', group_id), 'rev', 1))
  result[#result + 1] = group_id
end
redis.call('DEL', member_of_key(id))
return result
`;

/** KEYS[1] resource hash, ARGV[1] state JSON. Never creates a hash for a purged resource. */
const SET_DELIVERY_STATE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'delivery', ARGV[1])
return 1
`;

/** KEYS[1] resource hash, KEYS[2..] delivery-side keys. Only a tombstone (or nothing) is purged. */
const PURGE = `
if redis.call('HEXISTS', KEYS[1], 'doc') == 1 and redis.call('HEXISTS', KEYS[1], 'del') == 0 then
  return 0
end
redis.call('DEL', unpack(KEYS))
return 1
`;

type ScriptArg = string | number;
export type ScriptCall = (...args: ScriptArg[]) => Promise<unknown>;

/** The scripts bound to one connection; the first argument of each is the key list's head. */
export interface StoreScripts {
  create(docKey: string, args: ScriptArg[]): Promise<unknown>;
  update(docKey: string, args: ScriptArg[]): Promise<unknown>;
  remove(docKey: string, args: ScriptArg[]): Promise<unknown>;
  setDeliveryState(docKey: string, state: string): Promise<unknown>;
  purge(keys: string[]): Promise<unknown>;
}

/**
 * Registers the scripts on the connection with `defineCommand`, which sends EVALSHA and loads
 * the script on a NOSCRIPT reply (after a Redis restart or failover). Safe to call once per store
 * on a shared connection: the names are namespaced and defined only once.
 * @see https://github.com/redis/ioredis#lua-scripting
 */
export function defineStoreScripts(redis: Redis): StoreScripts {
  const create = defineScript(redis, 'scimStoreCreate', CREATE, 1);
  const update = defineScript(redis, 'scimStoreUpdate', UPDATE, 1);
  const remove = defineScript(redis, 'scimStoreDelete', DELETE, 1);
  const setDeliveryState = defineScript(redis, 'scimStoreSetDeliveryState', SET_DELIVERY_STATE, 1);
  const purge = defineScript(redis, 'scimStorePurge', PURGE);
  return {
    create: (docKey, args) => create(docKey, ...args),
    update: (docKey, args) => update(docKey, ...args),
    remove: (docKey, args) => remove(docKey, ...args),
    setDeliveryState: (docKey, state) => setDeliveryState(docKey, state),
    purge: (keys) => purge(keys.length, ...keys),
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
