import type { StoredResource } from '../store/types.js';
import { findKey, isPlainObject } from './filter-match.js';
import { normalizeManager } from './normalize.js';
import { SCHEMA_ENTERPRISE_USER, type MemberDetails, type ResourceType, type ScimMeta, type ScimResource } from './types.js';

/**
 * Server-assigned parts of a resource (id, meta) and how a stored resource is rendered back to
 * Entra. Group members are kept apart from the document (the store applies them as set
 * operations), so creating or replacing a group splits them off here.
 * @see https://www.rfc-editor.org/rfc/rfc7643#section-3.1
 */

export interface ResourceWithMembers {
  doc: ScimResource;
  /** Member ids of a group, when the body carried `members`. */
  members?: string[];
  /** `display` of the members the body named one for, by member id. */
  memberDetails?: Record<string, MemberDetails>;
}

function timestamp(now: Date | string): string {
  return typeof now === 'string' ? now : now.toISOString();
}

/** A new resource from a normalised POST body: assigns `id` and `meta`, splits off group members. */
export function newResource(type: ResourceType, normalizedBody: Record<string, unknown>, options: { id: string; now: Date | string }): ResourceWithMembers {
  const created = timestamp(options.now);
  const meta: ScimMeta = { resourceType: type, created, lastModified: created };
  return splitMembers(type, { ...normalizedBody, id: options.id, schemas: schemasOf(normalizedBody), meta });
}

/**
 * The document for a PUT: the new body under the existing `id` and `meta.created`. Members are
 * returned only when the body carries `members`, so a PUT without them leaves membership alone.
 */
export function replaceResource(existing: ScimResource, normalizedBody: Record<string, unknown>, now: Date | string): ResourceWithMembers {
  const meta: ScimMeta = { resourceType: existing.meta.resourceType, created: existing.meta.created, lastModified: timestamp(now) };
  return splitMembers(existing.meta.resourceType, { ...normalizedBody, id: existing.id, schemas: schemasOf(normalizedBody), meta });
}

/** A copy of `doc` with `meta.lastModified` set to `now` (after a PATCH). */
export function touch(doc: ScimResource, now: Date | string): ScimResource {
  return { ...doc, meta: { ...doc.meta, lastModified: timestamp(now) } };
}

function schemasOf(body: Record<string, unknown>): string[] {
  return Array.isArray(body.schemas) ? (body.schemas as string[]) : [];
}

function splitMembers(type: ResourceType, doc: ScimResource): ResourceWithMembers {
  if (type !== 'Group') return { doc };
  const key = findKey(doc, 'members');
  if (key === undefined) return { doc };
  const { [key]: members, ...rest } = doc;
  const ids: string[] = [];
  const details: Record<string, MemberDetails> = {};
  for (const member of Array.isArray(members) ? members : []) {
    if (!isPlainObject(member) || typeof member.value !== 'string' || member.value === '') continue;
    ids.push(member.value);
    if (typeof member.display === 'string' && member.display !== '') details[member.value] = { display: member.display };
  }
  const result: ResourceWithMembers = { doc: rest as ScimResource, members: [...new Set(ids)] };
  if (Object.keys(details).length > 0) result.memberDetails = details;
  return result;
}

/**
 * The resource as Entra reads it: `meta.location`, a weak ETag from the revision, group members
 * as `{ value, $ref, type, display? }` when they were loaded, `manager` always an object (a
 * string manager breaks Entra's deserialiser, Budibase/budibase#15369), and no empty lists:
 * an empty multi-valued attribute is unassigned and returned absent (RFC 7643 §2.5).
 */
export function renderResource(stored: StoredResource, options: { baseUrl: string }): ScimResource {
  const endpoint = stored.type === 'User' ? 'Users' : 'Groups';
  const doc: ScimResource = {
    ...stored.doc,
    meta: { ...stored.doc.meta, location: `${options.baseUrl}/${endpoint}/${stored.id}`, version: `W/"${stored.revision}"` },
  };
  const extension = doc[SCHEMA_ENTERPRISE_USER];
  if (isPlainObject(extension) && extension.manager !== undefined) {
    const manager = readableManager(extension.manager);
    const { manager: _omit, ...rest } = extension;
    doc[SCHEMA_ENTERPRISE_USER] = manager === undefined ? rest : { ...rest, manager };
  }
  for (const [key, value] of Object.entries(doc)) {
    if (Array.isArray(value) && value.length === 0) delete doc[key];
  }
  delete doc.members;
  if (stored.type === 'Group' && stored.members !== undefined && stored.members.length > 0) {
    doc.members = stored.members.map((id) => renderMember(id, stored.memberDetails?.[id], options.baseUrl));
  }
  return doc;
}

/**
 * The manager as an object, or undefined when the stored value has no valid form. Writes are
 * validated before they are stored, but a read must never fail on what an older version let in:
 * one unreadable user would break every list page and filter that contains it.
 */
function readableManager(value: unknown): { value: string } | undefined {
  try {
    return normalizeManager(value);
  } catch {
    return undefined;
  }
}

function renderMember(id: string, details: MemberDetails | undefined, baseUrl: string): Record<string, string> {
  const type = details?.type ?? 'User';
  const member: Record<string, string> = { value: id, $ref: `${baseUrl}/${type === 'Group' ? 'Groups' : 'Users'}/${id}`, type };
  if (details?.display !== undefined) member.display = details.display;
  return member;
}
