import { ScimError } from './errors.js';

/**
 * Versions and conditional requests (RFC 7644 §3.14). A resource's version is its store
 * revision as a weak entity tag, `W/"<revision>"`, sent as `meta.version` and the `ETag` header.
 * SCIM's own examples send weak tags in `If-Match`, so tags are compared weakly: `W/"3"` and
 * `"3"` both name revision 3.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.14
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-13.1.1
 */

export function etagOf(revision: number): string {
  return `W/"${revision}"`;
}

const ENTITY_TAG = /^(?:W\/)?"([^"]*)"$/;

/**
 * Whether an `If-Match` / `If-None-Match` value names `revision`: `*` names any existing
 * resource, otherwise one of the comma-separated tags must. Malformed tags name nothing.
 */
export function tagsMatch(header: string, revision: number): boolean {
  const wanted = String(revision);
  return header.split(',').some((raw) => {
    const tag = raw.trim();
    if (tag === '*') return true;
    return ENTITY_TAG.exec(tag)?.[1] === wanted;
  });
}

export function isWildcard(header: string): boolean {
  return header.trim() === '*';
}

export function preconditionFailed(): ScimError {
  return new ScimError(412, undefined, 'If-Match does not name the current version of the resource');
}

/** Throws 412 unless `ifMatch` (when given) names the current revision. */
export function checkIfMatch(ifMatch: string | undefined, revision: number): void {
  if (ifMatch !== undefined && !tagsMatch(ifMatch, revision)) throw preconditionFailed();
}
