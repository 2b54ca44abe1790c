import { isDeepStrictEqual } from 'node:util';
import type { ScimResource } from '../scim/types.js';

/**
 * Which attributes a SCIM write changed, by name only (`name.givenName`, `emails`,
 * `urn:…:enterprise:2.0:User:department`), for the resource's timeline. Values never leave
 * this function. Complex attributes are compared one level deep; multi-valued ones as a whole.
 */

/** Bookkeeping attributes every write touches or that SCIM clients cannot change. */
const IGNORED = new Set(['schemas', 'id', 'meta']);

/** Most names reported for one write, so a huge document cannot blow up a timeline entry. */
const MAX_NAMES = 50;

export function changedAttributes(before: ScimResource | undefined, after: ScimResource | undefined): string[] {
  const names = new Set<string>();
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of keys) {
    if (IGNORED.has(key)) continue;
    const left = (before as Record<string, unknown> | undefined)?.[key];
    const right = (after as Record<string, unknown> | undefined)?.[key];
    if (isPlainObject(left) || isPlainObject(right)) {
      const inner = new Set([...Object.keys(isPlainObject(left) ? left : {}), ...Object.keys(isPlainObject(right) ? right : {})]);
      for (const sub of inner) {
        const a = isPlainObject(left) ? left[sub] : undefined;
        const b = isPlainObject(right) ? right[sub] : undefined;
        if (!sameValue(a, b)) names.add(`${key}.${sub}`);
      }
    } else if (!sameValue(left, right)) {
      names.add(key);
    }
  }
  return [...names].sort().slice(0, MAX_NAMES);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || isDeepStrictEqual(a, b);
}
