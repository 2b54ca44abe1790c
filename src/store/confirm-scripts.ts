import type { Redis } from 'ioredis';
import { HEAD_KEYS } from './script-keys.js';
import { defineScript, storeScript } from './scripts.js';

/**
 * The two sides of a first-attempt confirmation (see `ResourceStore.settleConfirmation` and
 * `collectConfirmation`). The write script marked the waiter (`P:confirm:<Type>:<id>` = revision)
 * and kept the replaced state in the resource record; whoever comes first of the worker (reporting
 * the first attempt) and the API (giving up when its wait runs out) takes the marker, in one
 * atomic step, so a change is never rolled back after the client was told it succeeded.
 */

/**
 * KEYS and the start of ARGV: `declareScriptKeys`, with the reply list of this revision
 * (`confirm:<Type>:<id>:<rev>:reply`) as the one extra key; a rejection observes the groups
 * the resource is in and, for a group, its members and saved members. Then ARGV: type, id,
 * revision, kind (ok | transient | rejected), reply JSON, fallback reply JSON (sent when a
 * rejection cannot be rolled back), reply ttl ms, notice channel.
 * Returns {'none'} (nobody waits) | {'replied'} | {'restored', revision} |
 * {'removed', group id, group revision, ...} (a rejected create, and the groups it had joined) |
 * {'stale', sets…}.
 */
const SETTLE = storeScript(`
read_layout(${HEAD_KEYS} + 2)
local type, id, revision, kind = next_arg(), next_arg(), next_arg(), next_arg()
local reply, fallback, ttl, channel = next_arg(), next_arg(), next_arg(), next_arg()
local key = K.doc
local reply_key = KEYS[${HEAD_KEYS} + 1]
if not observed_unchanged() then return stale() end
if redis.call('GET', K.confirm) ~= revision then return {'none'} end
redis.call('DEL', K.confirm)

local result = {'replied'}
local current = is_live(key) and tonumber(record_get(key, 'rev')) == tonumber(revision)
  and record_get(key, 'prevof') == revision

local function restore_members()
  local wanted = {}
  for _, member_id in ipairs(observed_set('prev_members')) do wanted[member_id] = true end
  for _, member_id in ipairs(observed_set('members')) do
    if not wanted[member_id] then remove_member(id, member_id) end
  end
  for member_id in pairs(wanted) do add_member(id, member_id) end
  -- Writes made before the details were kept (prevdetails unset) keep the current details.
  if record_get(key, 'prevdetails') then
    redis.call('DEL', K.member_details)
    redis.call('COPY', K.prev_member_details, K.member_details)
  end
end

-- The resource did not exist before the rejected write: take it out of everything.
local function remove_created()
  remove_entries(id, cjson.decode(record_get(key, 'ix')))
  redis.call('ZREM', K.order, id)
  local removed = {'removed'}
  leave_memberships(type, id, function(group_id, group_revision)
    removed[#removed + 1] = group_id
    removed[#removed + 1] = group_revision
  end)
  if type == 'Group' then redis.call('DEL', K.members, K.member_details, K.delivered) end
  redis.call('DEL', K.prev_members, K.prev_member_details, key)
  record_drop(key)
  return removed
end

if kind == 'rejected' then
  local rolled = false
  if current then
    if not record_get(key, 'prevdoc') then
      -- Only when the target holds nothing of it: a create that went through and a later call
      -- (a member) was refused leaves a linked resource, which a local removal would orphan.
      local state = record_get(key, 'delivery')
      -- The state's target id: t (state-codec.ts), targetId in a release before it.
      local decoded = state and cjson.decode(state)
      if not (decoded and (decoded.t or decoded.targetId)) then
        result = remove_created()
        rolled = true
      end
    else
      local previous = cjson.decode(record_get(key, 'previx'))
      -- Another resource may have taken the old userName meanwhile: then nothing is restored.
      if not taken_unique(id, previous) then
        remove_entries(id, cjson.decode(record_get(key, 'ix')))
        add_entries(id, previous)
        record_set(key, 'doc', record_get(key, 'prevdoc'), 'ix', record_get(key, 'previx'))
        if record_get(key, 'prevmembers') then restore_members() end
        local restored = record_incr(key, 'rev')
        outbox_add(type, id, restored)
        result = {'restored', restored}
        rolled = true
      end
    end
  end
  if not rolled then reply = fallback end
end
if record_exists(key) then clear_prev() end

redis.call('LPUSH', reply_key, reply)
redis.call('PEXPIRE', reply_key, ttl)
redis.call('PUBLISH', channel, type .. ':' .. id .. ':' .. revision)
return result
`);

/**
 * KEYS and the start of ARGV: `declareScriptKeys`, with the reply list of this revision as the
 * one extra key. Then ARGV: type, id, revision.
 * Returns {'abandoned'} (no report yet: the wait is over, keep the change) | {'reply', JSON} |
 * {'none'} (another write of the resource took over the wait).
 */
const COLLECT = storeScript(`
read_layout(${HEAD_KEYS} + 2)
local type, id, revision = next_arg(), next_arg(), next_arg()
if redis.call('GET', K.confirm) == revision then
  redis.call('DEL', K.confirm)
  if record_get(K.doc, 'prevof') == revision then clear_prev() end
  return {'abandoned'}
end
local reply = redis.call('LPOP', KEYS[${HEAD_KEYS} + 1])
if reply then return {'reply', reply} end
return {'none'}
`);

/** The Lua source of the confirmation scripts by command name (for tests that check declared keys). */
export const CONFIRM_SCRIPT_SOURCES: Readonly<Record<string, string>> = {
  scimStoreConfirmSettle: SETTLE,
  scimStoreConfirmCollect: COLLECT,
};

export interface ConfirmScripts {
  settle(keys: string[], args: Array<string | number>): Promise<unknown>;
  collect(keys: string[], args: Array<string | number>): Promise<unknown>;
}

export function defineConfirmScripts(redis: Redis): ConfirmScripts {
  const settle = defineScript(redis, 'scimStoreConfirmSettle', SETTLE);
  const collect = defineScript(redis, 'scimStoreConfirmCollect', COLLECT);
  return {
    settle: (keys, args) => settle(keys.length, ...keys, ...args),
    collect: (keys, args) => collect(keys.length, ...keys, ...args),
  };
}
