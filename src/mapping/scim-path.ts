import { parse } from 'scim2-parse-filter';

/**
 * The SCIM path reader the mapping engine uses for `from:` and `{resource.…}`. A minimal stand-in
 * until src/scim/paths.ts lands: attribute names are case-insensitive (RFC 7643 §2.1), a full URN
 * prefix selects an extension (or the core schema), and a `[filter]` picks the first matching
 * element of a multi-valued attribute.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.10
 */

const PATH_PATTERN = /^(?:(urn:[^[\]\s]+):)?([A-Za-z$][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z$][\w$-]*))?$/;
const CORE_URN = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i;

interface ParsedPath {
  urn?: string;
  attribute: string;
  filter?: ReturnType<typeof parse>;
  sub?: string;
}

function parsePath(path: string): ParsedPath {
  const match = PATH_PATTERN.exec(path);
  if (!match) {
    throw new Error(`"${path}" is not a SCIM path; write e.g. userName, name.givenName, emails[type eq "work"].value or urn:…:User:department`);
  }
  const [, urn, attribute = '', filterText, sub] = match;
  let filter: ParsedPath['filter'];
  if (filterText !== undefined) {
    try {
      filter = parse(filterText);
    } catch (err) {
      throw new Error(`the filter [${filterText}] in "${path}" does not parse (${(err as Error).message}); write e.g. [type eq "work"]`, { cause: err });
    }
  }
  return { urn, attribute, filter, sub };
}

/** Undefined when the path parses, else a message that says how to write it. */
export function scimPathProblem(path: string): string | undefined {
  try {
    parsePath(path);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(obj: unknown, name: string): unknown {
  if (!isObject(obj)) return undefined;
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function matches(element: unknown, filter: NonNullable<ParsedPath['filter']>): boolean {
  if (!isObject(element)) return false;
  switch (filter.op) {
    case 'and':
      return filter.filters.every((f) => matches(element, f));
    case 'or':
      return filter.filters.some((f) => matches(element, f));
    case 'not':
      return !matches(element, filter.filter);
    case 'pr':
      return pick(element, filter.attrPath) !== undefined;
    case 'eq':
    case 'ne': {
      const actual = pick(element, filter.attrPath);
      const equal =
        typeof actual === 'string' && typeof filter.compValue === 'string'
          ? actual.toLowerCase() === filter.compValue.toLowerCase()
          : String(actual).toLowerCase() === String(filter.compValue).toLowerCase();
      return filter.op === 'eq' ? equal : !equal;
    }
    default:
      return false;
  }
}

/** Reads a SCIM path from a resource; undefined when absent. Throws on a path that does not parse. */
export function getValue(resource: Record<string, unknown>, path: string): unknown {
  const parsed = parsePath(path);
  const container = parsed.urn === undefined || CORE_URN.test(parsed.urn) ? resource : pick(resource, parsed.urn);
  let value = pick(container, parsed.attribute);
  if (parsed.filter) {
    const filter = parsed.filter;
    value = Array.isArray(value) ? value.find((element) => matches(element, filter)) : undefined;
  }
  if (parsed.sub === undefined) return value;
  const sub = parsed.sub;
  return Array.isArray(value) ? value.map((element) => pick(element, sub)).find((v) => v !== undefined) : pick(value, sub);
}
