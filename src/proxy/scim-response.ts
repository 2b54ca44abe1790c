import { isPlainObject } from '../scim/filter-match.js';
import { SCHEMA_LIST_RESPONSE } from '../scim/types.js';

/**
 * Fixes a SCIM target's answer for Entra, the other way round from the request rewrites: every
 * URL under the target's base (`meta.location`, `$ref`s) points at the bridge's Tenant URL
 * instead, a ListResponse always has `Resources` (Entra requires it, even when empty), and an
 * error's `status` is the string RFC 7644 §3.12 asks for. Answers that are not JSON pass as is.
 */

const SCHEMA_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

export function fixResponseBody(text: string, targetBase: string, publicBase: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text;
  }
  const fixed = rewriteUrls(parsed, targetBase, publicBase);
  if (isPlainObject(fixed)) {
    const schemas = Array.isArray(fixed.schemas) ? fixed.schemas : [];
    if (schemas.includes(SCHEMA_LIST_RESPONSE) && fixed.Resources === undefined) fixed.Resources = [];
    if (schemas.includes(SCHEMA_ERROR) && typeof fixed.status === 'number') fixed.status = String(fixed.status);
  }
  return JSON.stringify(fixed);
}

/** A `Location` header under the target's base, moved under the bridge's. */
export function rewriteLocation(location: string, targetBase: string, publicBase: string): string {
  return isUnder(location, targetBase) ? `${publicBase}${location.slice(targetBase.length)}` : location;
}

function rewriteUrls(value: unknown, targetBase: string, publicBase: string): unknown {
  if (typeof value === 'string') return rewriteLocation(value, targetBase, publicBase);
  if (Array.isArray(value)) return value.map((element) => rewriteUrls(element, targetBase, publicBase));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(value)) out[key] = rewriteUrls(sub, targetBase, publicBase);
  return out;
}

function isUnder(url: string, base: string): boolean {
  return url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`);
}
