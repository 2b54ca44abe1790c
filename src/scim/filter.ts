import type { Filter } from 'scim2-parse-filter';
import type { IndexedAttribute } from '../store/types.js';
import { attributesOf } from './discovery.js';
import { badRequest } from './errors.js';
import { isCoreSchema, matchesFilter, parseFilterExpression, splitAttrPath } from './filter-match.js';
import { BUILT_IN_SCHEMAS, type SchemaRegistry } from './schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, type ResourceType, type ScimResource } from './types.js';

/**
 * `GET /Users?filter=…` and `/Groups?filter=…` (RFC 7644 §3.4.2.2), compiled into a plan the store
 * can answer cheaply: one id or index lookup when the filter pins an indexed attribute (Entra's
 * matching queries always do), a scan otherwise, and `matches()` to check each candidate.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 */

export type FilterLookup =
  | { kind: 'id'; id: string }
  | { kind: 'index'; attribute: IndexedAttribute; value: string }
  | { kind: 'scan' };

export interface FilterPlan {
  lookup: FilterLookup;
  /** Whether a resource satisfies the whole filter; `members` are the group's member ids. */
  matches(resource: ScimResource, members?: string[]): boolean;
  /** True when the filter tests group membership, so candidates must be loaded with members. */
  needsMembers: boolean;
}

const ATTRIBUTE_PATH = /^(?:urn:[^\s[\]"]+:)?[A-Za-z$][\w$-]*(?:\.[A-Za-z$][\w$-]*)?$/;

/** Compiles a filter; throws ScimError 400 invalidFilter with the reason when it is not valid. */
export function compileFilter(type: ResourceType, filter: string, schemas: SchemaRegistry = BUILT_IN_SCHEMAS): FilterPlan {
  if (typeof filter !== 'string' || filter.trim() === '') throw badRequest('invalidFilter', 'Filter is empty');
  let ast: Filter;
  try {
    ast = parseFilterExpression(rewriteValuePathComparisons(filter.trim()));
  } catch (error) {
    // The parser quotes the offending token, which may be a submitted value (PII): drop it.
    throw badRequest('invalidFilter', `Invalid filter: ${(error as Error).message.replace(/"[^"]*"/g, '"…"')}`);
  }
  validate(ast, false);
  if (type === 'User') qualifyEnterpriseAttributes(ast);
  const needsMembers = type === 'Group' && referencesMembers(ast);
  return {
    lookup: chooseLookup(type, ast),
    needsMembers,
    matches(resource, members) {
      const target = needsMembers ? { ...resource, members: (members ?? []).map((value) => ({ value })) } : resource;
      return matchesFilter(target, ast, { isCaseExact: (attrPath) => isCaseExact(type, attrPath, schemas) });
    },
  };
}

/**
 * `emails[type eq "work"].value eq "x"` → `emails[(type eq "work") and value eq "x"]`, for
 * `attr[filter].sub op value`, `attr[filter].sub pr` and the older `attr[filter] op value`
 * (MicrosoftDocs/azure-docs#83855); scim2-parse-filter reads the first as an uncorrelated `and`.
 *
 * A single left-to-right scan rather than a regex: the filter is untrusted, and every pattern
 * tried for this backtracked quadratically on long inputs. Each character is read a bounded
 * number of times: a failed match resumes where its scan stopped, and the value filter's scan
 * stops at the next bracket, so two scans never cover the same text.
 */
function rewriteValuePathComparisons(filter: string): string {
  let out = '';
  let i = 0;
  while (i < filter.length) {
    if (filter[i] === '"') {
      const end = quotedEnd(filter, i);
      out += filter.slice(i, end);
      i = end;
      continue;
    }
    if (!PATH_CHAR.test(filter[i]!)) {
      out += filter[i];
      i++;
      continue;
    }
    const attributeEnd = runEnd(filter, i, PATH_CHAR);
    const attribute = filter.slice(i, attributeEnd);
    const inner = /^[A-Za-z]/.test(attribute) && filter[attributeEnd] === '[' ? valueFilterEnd(filter, attributeEnd + 1) : -1;
    if (inner === -1) {
      out += attribute;
      i = attributeEnd;
      continue;
    }
    const rewritten = comparisonAfter(filter, inner + 1);
    const valueFilter = filter.slice(attributeEnd + 1, inner);
    if (rewritten) {
      out += `${attribute}[(${valueFilter}) and ${rewritten.sub ?? 'value'}${rewritten.comparison}]`;
      i = rewritten.end;
    } else {
      out += filter.slice(i, inner + 1);
      i = inner + 1;
    }
  }
  return out;
}

const PATH_CHAR = /[\w$:.-]/;
const NAME_START = /[A-Za-z$]/;
const NAME_CHAR = /[\w$-]/;
const SPACE = /\s/;
const COMPARISON_OPERATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']);

/** Index of the quote closing the literal that starts at `start`, or -1 when it is unterminated. */
function closingQuote(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i < text.length ? i : -1;
}

/** Index just past the quoted literal starting at `start` (the end for an unterminated one). */
function quotedEnd(text: string, start: number): number {
  const close = closingQuote(text, start);
  return close === -1 ? text.length : close + 1;
}

function runEnd(text: string, start: number, chars: RegExp): number {
  let i = start;
  while (i < text.length && chars.test(text[i]!)) i++;
  return i;
}

/** Index of the `]` closing a value filter that starts at `start`; -1 at a nested `[` or the end. */
function valueFilterEnd(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const c = text[i];
    if (c === ']') return i;
    if (c === '[') return -1;
    i = c === '"' ? quotedEnd(text, i) : i + 1;
  }
  return -1;
}

/** `.sub op value` or `.sub pr` (sub optional) right after a value filter's `]`, or undefined. */
function comparisonAfter(text: string, start: number): { sub?: string; comparison: string; end: number } | undefined {
  let i = start;
  let sub: string | undefined;
  if (text[i] === '.' && NAME_START.test(text[i + 1] ?? '')) {
    const subEnd = runEnd(text, i + 2, NAME_CHAR);
    sub = text.slice(i + 1, subEnd);
    i = subEnd;
  }
  const operatorStart = runEnd(text, i, SPACE);
  if (operatorStart === i) return undefined;
  const operatorEnd = runEnd(text, operatorStart, /[A-Za-z]/);
  const operator = text.slice(operatorStart, operatorEnd).toLowerCase();
  let end: number;
  if (operator === 'pr') {
    end = operatorEnd;
  } else if (COMPARISON_OPERATORS.has(operator)) {
    const valueStart = runEnd(text, operatorEnd, SPACE);
    if (valueStart === operatorEnd || valueStart === text.length) return undefined;
    if (text[valueStart] === '"') {
      const close = closingQuote(text, valueStart);
      if (close === -1) return undefined;
      end = close + 1;
    } else {
      end = runEnd(text, valueStart, /[^\s()"\]]/);
      if (end === valueStart) return undefined;
    }
  } else {
    return undefined;
  }
  return { ...(sub === undefined ? {} : { sub }), comparison: text.slice(i, end), end };
}

function validate(filter: Filter, insideValuePath: boolean): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      filter.filters.forEach((f) => validate(f, insideValuePath));
      return;
    case 'not':
      validate(filter.filter, insideValuePath);
      return;
    case '[]':
      if (insideValuePath) throw badRequest('invalidFilter', `Nested value filter on ${filter.attrPath} is not allowed`);
      checkAttributePath(filter.attrPath);
      validate(filter.valFilter, true);
      return;
    default:
      checkAttributePath(filter.attrPath);
  }
}

const ENTERPRISE_NAMES = new Set(attributesOf(SCHEMA_ENTERPRISE_USER).map((definition) => definition.name.toLowerCase()));

/**
 * Entra's reference check names the manager without its URN (`manager eq "…"`, docs §3.6);
 * unqualified enterprise-only attribute names are read from the enterprise extension.
 */
function qualifyEnterpriseAttributes(filter: Filter): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      filter.filters.forEach(qualifyEnterpriseAttributes);
      return;
    case 'not':
      qualifyEnterpriseAttributes(filter.filter);
      return;
    default: {
      const { urn, names } = splitAttrPath(filter.attrPath);
      if (urn === undefined && ENTERPRISE_NAMES.has((names[0] ?? '').toLowerCase())) {
        filter.attrPath = `${SCHEMA_ENTERPRISE_USER}:${filter.attrPath}`;
      }
    }
  }
}

function checkAttributePath(attrPath: string): void {
  if (!ATTRIBUTE_PATH.test(attrPath)) throw badRequest('invalidFilter', `Invalid attribute path in filter: ${attrPath}`);
}

/** The attribute path without a core schema URN, lower-cased: `urn:…:core:2.0:User:userName` → `username`. */
function canonical(attrPath: string): string {
  const { urn, names } = splitAttrPath(attrPath);
  const path = names.join('.').toLowerCase();
  return urn === undefined || isCoreSchema(urn) ? path : `${urn.toLowerCase()}:${path}`;
}

/** `id` and every attribute its schema declares caseExact (externalId, declared extension attributes). */
function isCaseExact(type: ResourceType, attrPath: string, schemas: SchemaRegistry): boolean {
  if (canonical(attrPath) === 'id') return true;
  const resolved = schemas.resolve(type, attrPath);
  return (resolved?.sub ?? resolved?.attribute)?.caseExact ?? false;
}

function referencesMembers(filter: Filter): boolean {
  switch (filter.op) {
    case 'and':
    case 'or':
      return filter.filters.some(referencesMembers);
    case 'not':
      return referencesMembers(filter.filter);
    default:
      return canonical(filter.attrPath).split('.')[0] === 'members';
  }
}

interface Candidate {
  rank: number;
  lookup: FilterLookup;
}

/** The most selective indexed clause of a top-level `and`: id > userName/displayName > externalId > email. */
function chooseLookup(type: ResourceType, ast: Filter): FilterLookup {
  const candidates = topLevelClauses(ast)
    .map((clause) => candidateFor(type, clause))
    .filter((candidate): candidate is Candidate => candidate !== undefined)
    .sort((a, b) => a.rank - b.rank);
  return candidates[0]?.lookup ?? { kind: 'scan' };
}

function topLevelClauses(ast: Filter): Filter[] {
  return ast.op === 'and' ? ast.filters.flatMap(topLevelClauses) : [ast];
}

function candidateFor(type: ResourceType, clause: Filter): Candidate | undefined {
  if (clause.op === '[]') {
    if (type !== 'User' || canonical(clause.attrPath) !== 'emails') return undefined;
    const value = topLevelClauses(clause.valFilter)
      .map((inner) => (inner.op === 'eq' && canonical(inner.attrPath) === 'value' ? literal(inner.compValue) : undefined))
      .find((v) => v !== undefined);
    return value === undefined ? undefined : { rank: 4, lookup: { kind: 'index', attribute: 'email', value } };
  }
  if (clause.op !== 'eq') return undefined;
  const value = literal(clause.compValue);
  if (value === undefined) return undefined;
  const index = (rank: number, attribute: IndexedAttribute): Candidate => ({ rank, lookup: { kind: 'index', attribute, value } });
  switch (canonical(clause.attrPath)) {
    case 'id':
      return { rank: 0, lookup: { kind: 'id', id: value } };
    case 'username':
      return type === 'User' ? index(1, 'userName') : undefined;
    case 'displayname':
      return index(type === 'Group' ? 1 : 2, 'displayName');
    case 'externalid':
      return index(3, 'externalId');
    case 'emails.value':
      return type === 'User' ? index(4, 'email') : undefined;
    default:
      return undefined;
  }
}

function literal(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}
