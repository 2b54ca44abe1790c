import type { ResourceType, ScimResource } from '../scim/types.js';
import type { IndexedAttribute } from './types.js';

/** `unique`: one id per value, a second claim is a 409. `multi`: any number of ids per value. */
export type IndexMode = 'unique' | 'multi';

/**
 * The indexes each resource type keeps. Entra relies on 409 for `userName` (users) and
 * `displayName` (groups); `externalId` may legitimately be shared.
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1
 */
export const INDEXES: Readonly<Record<ResourceType, Readonly<Partial<Record<IndexedAttribute, IndexMode>>>>> = {
  User: { userName: 'unique', externalId: 'multi', displayName: 'multi', email: 'multi' },
  Group: { displayName: 'unique', externalId: 'multi' },
};

/** One value a resource is findable by. */
export interface IndexEntry {
  attribute: IndexedAttribute;
  mode: IndexMode;
  /** Already normalised with `indexValue`. */
  value: string;
}

/**
 * Case folding for case-insensitive attributes. Done in TypeScript, not Lua, because Lua's
 * `string.lower` only knows ASCII; NFC makes composed and decomposed accents the same value.
 */
export function foldCase(value: string): string {
  return value.normalize('NFC').toLowerCase();
}

/** The form a value is indexed and looked up in: exact for `externalId` (caseExact), folded otherwise. */
export function indexValue(attribute: IndexedAttribute, value: string): string {
  return attribute === 'externalId' ? value : foldCase(value);
}

/**
 * Every index entry of a document, without duplicates. Non-string and empty values are not
 * indexed. A user's email equal to its userName (Entra's usual case: the work email is the UPN)
 * is not indexed as an email either: an email lookup also asks the userName index
 * (`ResourceStore.findBy`), which saves a user's largest index entry.
 */
export function indexEntries(type: ResourceType, doc: ScimResource): IndexEntry[] {
  const entries: IndexEntry[] = [];
  const seen = new Set<string>();
  if (type === 'User' && typeof doc.userName === 'string' && doc.userName.length > 0) {
    seen.add(`email\u0000${indexValue('email', doc.userName)}`);
  }
  for (const [attribute, mode] of Object.entries(INDEXES[type]) as [IndexedAttribute, IndexMode][]) {
    for (const raw of rawValues(attribute, doc)) {
      const value = indexValue(attribute, raw);
      const key = `${attribute}\u0000${value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      entries.push({ attribute, mode, value });
    }
  }
  return entries;
}

function rawValues(attribute: IndexedAttribute, doc: ScimResource): string[] {
  if (attribute !== 'email') return nonEmptyStrings([doc[attribute]]);
  const emails = doc.emails;
  if (!Array.isArray(emails)) return [];
  return nonEmptyStrings(emails.map((email: unknown) => (isRecord(email) ? email.value : undefined)));
}

function nonEmptyStrings(values: unknown[]): string[] {
  return values.filter((value): value is string => typeof value === 'string' && value.length > 0);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
