import type { Redis } from 'ioredis';
import { defineScript, LIB } from './scripts.js';

/**
 * The two sides of a first-attempt confirmation (see `ResourceStore.settleConfirmation` and
 * `collectConfirmation`). The write script marked the waiter (`P:confirm:<Type>:<id>` = revision)
 * and kept the replaced state in the resource hash; whoever comes first of the worker (reporting
 * the first attempt) and the API (giving up when its wait runs out) takes the marker, in one
 * atomic step, so a change is never rolled back after the client was told it succeeded.
 */

/**
 * KEYS[1] resource hash. ARGV: prefix, type, id, revision, kind (ok | transient | rejected),
 * reply JSON, fallback reply JSON (sent when a rejection cannot be rolled back), reply ttl ms.
 * Returns {'none'} (nobody waits) | {'replied'} | {'restored', revision} |
 * {'removed', group id, group revision, ...} (a rejected create, and the groups it had joined).
 */
const SETTLE = `${LIB}
local type, id, revision, kind = next_arg(), next_arg(), next_arg(), next_arg()
local reply, fallback, ttl = next_arg(), next_arg(), next_arg()
local key = KEYS[1]
local ckey = confirm_key(type, id)
if redis.call('GET', ckey) ~= revision then return {'none'} end
redis.call('DEL', ckey)

local result = {'replied'}
local current = is_live(key) and tonumber(redis.call('HGET', key, 'rev')) == tonumber(revision)
  and redis.call('HGET', key, 'prevof') == revision

local function restore_members()
  local wanted = {}
  for _, member_id in ipairs(redis.call('SMEMBERS', prev_members_key(id))) do wanted[member_id] = true end
  for _, member_id in ipairs(redis.call('SMEMBERS', members_key(id))) do
    if not wanted[member_id] then remove_member(id, member_id) end
  end
  for member_id in pairs(wanted) do add_member(id, member_id) end
end

-- The resource did not exist before the rejected write: take it out of everything.
local function remove_created()
  remove_entries(type, id, cjson.decode(redis.call('HGET', key, 'ix')))
  redis.call('ZREM', order_key(type), id)
  local removed = {'removed'}
  if type == 'Group' then
    for _, member_id in ipairs(redis.call('SMEMBERS', members_key(id))) do
      redis.call('SREM', member_of_key(member_id), id)
    end
    redis.call('DEL', members_key(id), P .. ':Group:delivered:' .. id)
  end
  for _, group_id in ipairs(redis.call('SMEMBERS', member_of_key(id))) do
    redis.call('SREM', members_key(group_id), id)
    local group_revision = redis.call('HINCRBY', doc_key('Group', group_id), 'rev', 1)
    outbox_add('Group', group_id, group_revision)
    removed[#removed + 1] = group_id
    removed[#removed + 1] = group_revision
  end
  redis.call('DEL', member_of_key(id), prev_members_key(id), key)
  return removed
end

if kind == 'rejected' then
  local rolled = false
  if current then
    if redis.call('HEXISTS', key, 'prevdoc') == 0 then
      -- Only when the target holds nothing of it: a create that went through and a later call
      -- (a member) was refused leaves a linked resource, which a local removal would orphan.
      local state = redis.call('HGET', key, 'delivery')
      if not (state and cjson.decode(state).targetId) then
        result = remove_created()
        rolled = true
      end
    else
      local previous = cjson.decode(redis.call('HGET', key, 'previx'))
      -- Another resource may have taken the old userName meanwhile: then nothing is restored.
      if not taken_unique(type, id, previous) then
        remove_entries(type, id, cjson.decode(redis.call('HGET', key, 'ix')))
        add_entries(type, id, previous)
        redis.call('HSET', key, 'doc', redis.call('HGET', key, 'prevdoc'), 'ix', redis.call('HGET', key, 'previx'))
        if redis.call('HEXISTS', key, 'prevmembers') == 1 then restore_members() end
        local restored = redis.call('HINCRBY', key, 'rev', 1)
        outbox_add(type, id, restored)
        result = {'restored', restored}
        rolled = true
      end
    end
  end
  if not rolled then reply = fallback end
end
if redis.call('EXISTS', key) == 1 then clear_prev(key, id) end

local reply_key = ckey .. ':' .. revision .. ':reply'
redis.call('LPUSH', reply_key, reply)
redis.call('PEXPIRE', reply_key, ttl)
redis.call('PUBLISH', P .. ':confirm', type .. ':' .. id .. ':' .. revision)
return result
`;

/**
 * KEYS[1] resource hash. ARGV: prefix, type, id, revision.
 * Returns {'abandoned'} (no report yet: the wait is over, keep the change) | {'reply', JSON} |
 * {'none'} (another write of the resource took over the wait).
 */
const COLLECT = `${LIB}
local type, id, revision = next_arg(), next_arg(), next_arg()
local ckey = confirm_key(type, id)
if redis.call('GET', ckey) == revision then
  redis.call('DEL', ckey)
  if redis.call('HGET', KEYS[1], 'prevof') == revision then clear_prev(KEYS[1], id) end
  return {'abandoned'}
end
local reply = redis.call('LPOP', ckey .. ':' .. revision .. ':reply')
if reply then return {'reply', reply} end
return {'none'}
`;

export interface ConfirmScripts {
  settle(docKey: string, args: Array<string | number>): Promise<unknown>;
  collect(docKey: string, args: Array<string | number>): Promise<unknown>;
}

export function defineConfirmScripts(redis: Redis): ConfirmScripts {
  const settle = defineScript(redis, 'scimStoreConfirmSettle', SETTLE, 1);
  const collect = defineScript(redis, 'scimStoreConfirmCollect', COLLECT, 1);
  return {
    settle: (docKey, args) => settle(docKey, ...args),
    collect: (docKey, args) => collect(docKey, ...args),
  };
}
