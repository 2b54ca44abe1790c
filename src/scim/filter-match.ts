import { parse, type Filter } from 'scim2-parse-filter';
// The same case folding as the store's indexes, so an index lookup and a scan agree.
import { foldCase } from '../store/index-entries.js';
import { SCHEMA_GROUP, SCHEMA_USER } from './types.js';

/**
 * Evaluates a parsed SCIM filter (scim2-parse-filter AST) against one object, the SCIM way:
 * attribute names are case-insensitive (RFC 7643 §2.1), values compare by the attribute's type
 * from its schema (strings case-insensitively unless caseExact, dateTimes by instant, numbers by
 * value, booleans only for equality), and `"True"` matches a boolean `true` (Entra sends both).
 * The library's own `filter()` compares case-sensitively and untyped, hence this evaluator. It is
 * the one evaluator of the bridge: list filters, PATCH value filters and mapping paths use it.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 */

type Scalar = string | number | boolean | null;

/** What comparing an attribute needs to know from its schema. */
export interface AttributeInfo {
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime' | 'decimal' | 'integer' | 'binary';
  caseExact: boolean;
}

export interface MatchOptions {
  /**
   * The schema facts of a full attribute path (`userName`, `emails.type`, `urn:…:User:department`);
   * undefined for an attribute no schema defines, whose values compare untyped and case-insensitively.
   */
  describe?: (attrPath: string) => AttributeInfo | undefined;
}

const CORE_SCHEMAS = new Set([SCHEMA_USER.toLowerCase(), SCHEMA_GROUP.toLowerCase()]);

/** True for the core schema URNs, whose attributes live at the top level of a resource. */
export function isCoreSchema(urn: string): boolean {
  return CORE_SCHEMAS.has(urn.toLowerCase());
}

/** The key of `obj` equal to `name` ignoring case, if any. */
export function findKey(obj: Record<string, unknown>, name: string): string | undefined {
  if (Object.hasOwn(obj, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(obj).find((key) => key.toLowerCase() === lower);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Splits `urn:…:User:manager.value` into its schema URN and attribute names. */
export function splitAttrPath(attrPath: string): { urn?: string; names: string[] } {
  if (!/^urn:/i.test(attrPath)) return { names: attrPath.split('.') };
  const colon = attrPath.lastIndexOf(':');
  return { urn: attrPath.slice(0, colon), names: attrPath.slice(colon + 1).split('.') };
}

/** Every value an attribute path reaches in `target`, multi-valued attributes flattened. */
export function resolveAll(target: unknown, attrPath: string): unknown[] {
  const { urn, names } = splitAttrPath(attrPath);
  let current: unknown[] = [target];
  if (urn !== undefined && !isCoreSchema(urn)) current = step(current, urn);
  for (const name of names) current = step(current, name);
  return current.flatMap((value) => (Array.isArray(value) ? value : [value]));
}

function step(values: unknown[], name: string): unknown[] {
  const next: unknown[] = [];
  for (const value of values.flatMap((v) => (Array.isArray(v) ? v : [v]))) {
    if (!isPlainObject(value)) continue;
    const key = findKey(value, name);
    if (key !== undefined && value[key] !== undefined && value[key] !== null) next.push(value[key]);
  }
  return next;
}

/** Whether `target` satisfies `filter`. Unknown attributes simply do not match. */
export function matchesFilter(target: unknown, filter: Filter, options: MatchOptions = {}): boolean {
  switch (filter.op) {
    case 'and':
      return filter.filters.every((f) => matchesFilter(target, f, options));
    case 'or':
      return filter.filters.some((f) => matchesFilter(target, f, options));
    case 'not':
      return !matchesFilter(target, filter.filter, options);
    case '[]': {
      // Inside `emails[…]`, `type` means `emails.type`.
      const describe = options.describe;
      const inner: MatchOptions = describe ? { describe: (path) => describe(`${filter.attrPath}.${path}`) } : {};
      return resolveAll(target, filter.attrPath).some((element) => matchesFilter(element, filter.valFilter, inner));
    }
    case 'pr':
      return resolveAll(target, filter.attrPath).some((value) => value !== '' && !(isPlainObject(value) && Object.keys(value).length === 0));
    case 'ne':
      return !resolveAll(target, filter.attrPath).some((value) => compare(value, 'eq', filter.compValue, options.describe?.(filter.attrPath)));
    default:
      return resolveAll(target, filter.attrPath).some((value) => compare(value, filter.op, filter.compValue, options.describe?.(filter.attrPath)));
  }
}

/** Compares one attribute value with a filter literal; a complex value compares by its `value`. */
function compare(actual: unknown, op: string, expected: Scalar, info: AttributeInfo | undefined): boolean {
  const value = isPlainObject(actual) ? actual.value : actual;
  if (expected === null) return op === 'eq' ? value === undefined || value === null : false;
  if (value === undefined || value === null || isPlainObject(value) || Array.isArray(value)) return false;
  const type = info?.type ?? untypedKind(value, expected);
  switch (type) {
    case 'boolean':
      return op === 'eq' && String(value).toLowerCase() === String(expected).toLowerCase();
    case 'dateTime':
      if (op === 'eq' || ORDERED.has(op)) return compareOrdered(Date.parse(String(value)), op, Date.parse(String(expected)));
      return compareText(String(value), op, String(expected), info?.caseExact ?? false);
    case 'integer':
    case 'decimal':
      if (op === 'eq' || ORDERED.has(op)) return compareOrdered(Number(value), op, Number(expected));
      return compareText(String(value), op, String(expected), true);
    default:
      return compareText(String(value), op, String(expected), info?.caseExact ?? false);
  }
}

const ORDERED = new Set(['gt', 'ge', 'lt', 'le']);

/** An attribute no schema describes: booleans and numbers by what the stored value is. */
function untypedKind(value: unknown, expected: Scalar): AttributeInfo['type'] {
  if (typeof value === 'boolean' || typeof expected === 'boolean') return 'boolean';
  if (typeof value === 'number' && typeof expected === 'number') return 'decimal';
  return 'string';
}

function compareText(value: string, op: string, expected: string, exact: boolean): boolean {
  const left = exact ? value : foldCase(value);
  const right = exact ? expected : foldCase(expected);
  switch (op) {
    case 'co':
      return left.includes(right);
    case 'sw':
      return left.startsWith(right);
    case 'ew':
      return left.endsWith(right);
    default:
      return compareOrdered(left, op, right);
  }
}

/** NaN (an unparseable dateTime or number) compares false with everything. */
function compareOrdered<T extends string | number>(left: T, op: string, right: T): boolean {
  switch (op) {
    case 'eq':
      return left === right;
    case 'gt':
      return left > right;
    case 'ge':
      return left >= right;
    case 'lt':
      return left < right;
    case 'le':
      return left <= right;
    default:
      return false;
  }
}

const QUOTED = /"(?:[^"\\]|\\.)*"/g;
const BARE_LITERAL = /(\s(?:eq|ne|co|sw|ew|gt|lt|ge|le)\s+)([^\s"()[\]]+)/gi;
const JSON_NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/**
 * Parses filter text with scim2-parse-filter after making its literals JSON: `True`/`FALSE`/`Null`
 * are lowered (Entra, lightdash/lightdash#28415) and bare words such as the unquoted GUIDs of
 * `id eq 54D382A4-… and manager eq 2819c223-…` (Entra docs, reference-value checks) are quoted.
 * Throws the library's plain Error; callers turn it into the right ScimError.
 */
export function parseFilterExpression(text: string): Filter {
  return parse(mapUnquoted(text, (segment) => segment.replace(BARE_LITERAL, (_m, head: string, literal: string) => head + jsonLiteral(literal))));
}

function jsonLiteral(literal: string): string {
  const lower = literal.toLowerCase();
  if (lower === 'true' || lower === 'false' || lower === 'null') return lower;
  return JSON_NUMBER.test(literal) ? literal : JSON.stringify(literal);
}

/** Applies `fn` to the parts of `text` outside double-quoted strings. */
export function mapUnquoted(text: string, fn: (segment: string) => string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(QUOTED)) {
    out += fn(text.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return out + fn(text.slice(last));
}
