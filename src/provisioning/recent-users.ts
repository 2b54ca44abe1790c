import type { StoredResource } from '../store/types.js';

/**
 * The users this process last wrote or read, each with the revision it had then, so that a
 * PATCH or PUT can start from one instead of reading it from Redis first (one round trip and
 * one inflate less; Entra's updates are a filter GET, then a PATCH of what it found, and Okta's
 * a GET, then a PUT).
 *
 * A copy can be out of date (another API process wrote the user since): that costs nothing
 * but time, because a PATCH started from a copy writes with the copy's revision as the
 * compare-and-set condition, and the store refuses it when the revision moved on. The write
 * then forgets the copy and starts again from Redis (`fromCopyOrRedis` in `service.ts`). Reads never
 * answer from here. Groups are not kept: their membership-only changes skip the revision check.
 *
 * Entries are frozen (they are shared with the request that stored them) and the oldest is
 * dropped past `maxEntries` (a typical user is 1–2 KB of heap).
 */
export interface RecentUsers {
  get(id: string): StoredResource | undefined;
  remember(resource: StoredResource): void;
  forget(id: string): void;
}

export const RECENT_USERS_MAX = 10_000;

export function createRecentUsers(maxEntries = RECENT_USERS_MAX): RecentUsers {
  const entries = new Map<string, StoredResource>();
  return {
    get(id) {
      const entry = entries.get(id);
      if (entry) {
        // Most recently used last, so the first key is the one to drop.
        entries.delete(id);
        entries.set(id, entry);
      }
      return entry;
    },
    remember(resource) {
      if (resource.type !== 'User' || maxEntries <= 0) return;
      entries.delete(resource.id);
      entries.set(resource.id, deepFreeze(resource));
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    forget(id) {
      entries.delete(id);
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
