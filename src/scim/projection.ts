import { findKey, isCoreSchema, isPlainObject } from './filter-match.js';
import { parsePath } from './paths.js';

/**
 * `attributes` and `excludedAttributes` query parameters (RFC 7644 §3.4.2.5). Names are
 * comma-separated, case-insensitive, may name sub-attributes (`name.givenName`) and may be
 * URN-qualified, or name a whole extension by its URN. `id` and `schemas` are always returned;
 * `meta` is returned unless excluded. Entra relies on `excludedAttributes=members` for groups.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.5
 */

export interface ProjectionOptions {
  attributes?: string | undefined;
  excludedAttributes?: string | undefined;
}

/** Where one listed name points: a whole extension, or an attribute (in an extension) and sub-attribute. */
interface Selector {
  extension?: string;
  attribute?: string;
  subAttribute?: string;
}

const ALWAYS_RETURNED = new Set(['id', 'schemas']);

export function project(resource: Record<string, unknown>, options: ProjectionOptions): Record<string, unknown> {
  const included = selectors(resource, options.attributes);
  const excluded = selectors(resource, options.excludedAttributes);
  let result = included.length > 0 ? include(resource, included) : resource;
  if (excluded.length > 0) result = exclude(result, excluded);
  return result;
}

function selectors(resource: Record<string, unknown>, list: string | undefined): Selector[] {
  if (!list) return [];
  return list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
    .map((name) => selectorFor(resource, name));
}

function selectorFor(resource: Record<string, unknown>, name: string): Selector {
  const wholeExtension = /^urn:/i.test(name) ? findKey(resource, name) : undefined;
  if (wholeExtension !== undefined && isPlainObject(resource[wholeExtension])) return { extension: wholeExtension };
  const parsed = parsePath(name);
  const selector: Selector = { attribute: parsed.attribute };
  if (parsed.urn !== undefined && !isCoreSchema(parsed.urn)) selector.extension = findKey(resource, parsed.urn) ?? parsed.urn;
  if (parsed.subAttribute !== undefined) selector.subAttribute = parsed.subAttribute;
  return selector;
}

function include(resource: Record<string, unknown>, list: Selector[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(resource)) {
    if (ALWAYS_RETURNED.has(key) || key === 'meta') result[key] = resource[key];
  }
  for (const selector of list) {
    const source = selector.extension === undefined ? resource : resource[selector.extension];
    if (!isPlainObject(source)) continue;
    if (selector.attribute === undefined) {
      result[selector.extension as string] = source;
      continue;
    }
    let target = result;
    if (selector.extension !== undefined) {
      const existing = result[selector.extension];
      target = isPlainObject(existing) ? existing : (result[selector.extension] = {});
    }
    const key = findKey(source, selector.attribute);
    if (key === undefined) continue;
    target[key] = selector.subAttribute === undefined ? source[key] : pickSub(source[key], target[key], selector.subAttribute);
  }
  return result;
}

/** Adds one sub-attribute to what is already projected of a complex (or multi-valued) attribute. */
function pickSub(value: unknown, projected: unknown, subAttribute: string): unknown {
  const pickOne = (element: unknown, previous: unknown): unknown => {
    if (!isPlainObject(element)) return previous;
    const out = isPlainObject(previous) ? previous : {};
    const key = findKey(element, subAttribute);
    if (key !== undefined) out[key] = element[key];
    return out;
  };
  if (Array.isArray(value)) return value.map((element, i) => pickOne(element, Array.isArray(projected) ? projected[i] : undefined));
  if (projected !== undefined && !isPlainObject(projected)) return projected;
  return pickOne(value, projected);
}

/**
 * The resource without the excluded attributes. Copies only what it changes (the resource, an
 * extension object, the elements losing a sub-attribute): a deep clone of the whole resource
 * would cost stack per nesting level of whatever the client once stored.
 */
function exclude(resource: Record<string, unknown>, list: Selector[]): Record<string, unknown> {
  const result = { ...resource };
  for (const selector of list) {
    if (selector.attribute === undefined) {
      delete result[selector.extension as string];
      continue;
    }
    let holder = result;
    if (selector.extension !== undefined) {
      const extension = result[selector.extension];
      if (!isPlainObject(extension)) continue;
      holder = result[selector.extension] = { ...extension };
    }
    const key = findKey(holder, selector.attribute);
    if (key === undefined || (holder === result && ALWAYS_RETURNED.has(key))) continue;
    if (selector.subAttribute === undefined) {
      delete holder[key];
      continue;
    }
    const subAttribute = selector.subAttribute;
    const withoutSub = (element: unknown): unknown => {
      if (!isPlainObject(element)) return element;
      const subKey = findKey(element, subAttribute);
      if (subKey === undefined) return element;
      const { [subKey]: _dropped, ...rest } = element;
      return rest;
    };
    const value = holder[key];
    holder[key] = Array.isArray(value) ? value.map(withoutSub) : withoutSub(value);
  }
  return result;
}
