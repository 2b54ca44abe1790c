import type { ProxyRewrite } from '../config/schema.js';
import type { ProxyWriteEvent } from '../ops/timeline.js';
import { findKey, isPlainObject } from '../scim/filter-match.js';
import type { ResourceType } from '../scim/types.js';
import { rewritePatch, rewriteResource, type RewriteContext } from './scim-rewrites.js';

/**
 * What a proxied write adds to the resource's timeline (ops/timeline.ts), computed from the
 * request alone: the operation, the names of the attributes it writes (never values) and which
 * of the connection's rewrites changed it. The upstream holds the resource; the bridge only
 * remembers what passed through.
 */

export type ProxyOp = ProxyWriteEvent['op'];

const OPS: Record<string, ProxyOp> = { POST: 'create', PUT: 'replace', PATCH: 'patch', DELETE: 'delete' };

/** Most names kept for one write, as for bridged writes. */
const MAX_NAMES = 50;

/** Bookkeeping attributes that are not written by a client. */
const IGNORED = new Set(['schemas', 'id', 'meta']);

export function proxyOpOf(method: string): ProxyOp | undefined {
  return OPS[method];
}

/** `/Users/<id>` (or `/Groups/<id>`) below the base path: the id, decoded; undefined otherwise. */
export function resourceIdOf(url: string, basePath: string): string | undefined {
  const rest = (url.split('?')[0] ?? '').slice(basePath.length);
  const match = /^\/(?:users|groups)\/([^/]+)\/?$/i.exec(rest);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

/**
 * Attribute names a write sets or removes: a resource body's top-level keys (an extension's keys
 * as `<urn>:<name>`), a PATCH operation's path up to its first filter or sub-attribute
 * (`emails[type eq "work"].value` → `emails`: the filter carries values), or a path-less
 * operation's value keys.
 */
export function writtenAttributes(op: ProxyOp, body: unknown): string[] {
  const names = new Set<string>();
  if (op === 'patch') {
    const key = isPlainObject(body) ? findKey(body, 'Operations') : undefined;
    const operations = key === undefined ? undefined : (body as Record<string, unknown>)[key];
    for (const operation of Array.isArray(operations) ? operations : []) {
      if (!isPlainObject(operation)) continue;
      const pathKey = findKey(operation, 'path');
      const path = pathKey === undefined ? undefined : operation[pathKey];
      if (typeof path === 'string' && path.length > 0) {
        names.add(attributeOfPath(path));
        continue;
      }
      const valueKey = findKey(operation, 'value');
      const value = valueKey === undefined ? undefined : operation[valueKey];
      if (isPlainObject(value)) for (const name of Object.keys(value)) if (!IGNORED.has(name)) names.add(attributeOfPath(name));
    }
  } else if ((op === 'create' || op === 'replace') && isPlainObject(body)) {
    for (const [name, value] of Object.entries(body)) {
      if (IGNORED.has(name)) continue;
      if (name.startsWith('urn:') && isPlainObject(value)) for (const sub of Object.keys(value)) names.add(`${name}:${sub}`);
      else names.add(name);
    }
  }
  return [...names].sort().slice(0, MAX_NAMES);
}

/** The name part of a SCIM path: no value filter, and for extensions `<urn>:<attribute>`. */
function attributeOfPath(path: string): string {
  const unfiltered = path.split('[')[0]!.trim();
  const urn = /^(urn:.+:)([^:.]+)/i.exec(unfiltered);
  if (urn) return `${urn[1]}${urn[2]}`;
  return unfiltered.split('.')[0]!;
}

/** The rewrites that changed a write's body, each tried alone (bodies are small). */
export function appliedRewrites(context: RewriteContext, op: ProxyOp, body: unknown, enabled: ReadonlySet<ProxyRewrite>): ProxyRewrite[] {
  if (op === 'delete' || body === undefined) return [];
  const type: ResourceType | undefined = context.type;
  const apply = (rewrites: ReadonlySet<ProxyRewrite>): string => {
    if (op === 'patch') return JSON.stringify(rewritePatch(context, body, rewrites));
    return JSON.stringify(type ? rewriteResource({ ...context, type }, body, rewrites) : body);
  };
  // Compared with no rewrite at all: rewritePatch rebuilds the envelope even then.
  const before = apply(new Set());
  return [...enabled].filter((rewrite) => apply(new Set([rewrite])) !== before);
}

/** The SCIM endpoints a proxied request's operation label may name; anything else is `/*`. */
const KNOWN_ENDPOINTS = /^\/(users|groups|bulk|me|serviceproviderconfig|schemas|resourcetypes|\.search)$/i;

/**
 * The route-like operation of a proxied request for logs and metrics (`PATCH /Users/:id`), as
 * bridged connections have from their routes: ids become `:id`, unknown paths `/*`, so the
 * label's cardinality stays small whatever Entra sends.
 */
export function proxyOperation(method: string, url: string, basePath: string): string {
  const segments = (url.split('?')[0] ?? '').slice(basePath.length).split('/').filter(Boolean);
  const [endpoint, id, ...rest] = segments;
  if (endpoint === undefined) return `${method} /`;
  const known = `/${endpoint}`;
  if (!KNOWN_ENDPOINTS.test(known)) return `${method} /*`;
  const canonical = canonicalEndpoint(known);
  if (id === undefined) return `${method} ${canonical}`;
  if (rest.length > 0 || /^\/(bulk|me|serviceproviderconfig|\.search)$/i.test(known)) return `${method} ${canonical}/*`;
  if (id.toLowerCase() === '.search') return `${method} ${canonical}/.search`;
  return `${method} ${canonical}/:id`;
}

function canonicalEndpoint(endpoint: string): string {
  const names = ['/Users', '/Groups', '/Bulk', '/Me', '/ServiceProviderConfig', '/Schemas', '/ResourceTypes', '/.search'];
  return names.find((name) => name.toLowerCase() === endpoint.toLowerCase()) ?? endpoint;
}
