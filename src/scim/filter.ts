import type { Filter } from 'scim2-parse-filter';
import type { IndexedAttribute } from '../store/types.js';
import { attributesOf } from './discovery.js';
import { scimError } from './error-catalog.js';
import { isCoreSchema, matchesFilter, parseFilterExpression, splitAttrPath, type AttributeInfo } from './filter-match.js';
import { rewriteValuePathComparisons } from './filter-value-paths.js';
import { BUILT_IN_SCHEMAS, type SchemaRegistry } from './schema-registry.js';
import { SCHEMA_ENTERPRISE_USER, type ResourceType, type ScimResource } from './types.js';

/**
 * `GET /Users?filter=…` and `/Groups?filter=…` (RFC 7644 §3.4.2.2): the one filter engine.
 * The text is parsed to an AST with scim2-parse-filter (after a linear pre-pass for value-path
 * comparisons), checked against the schemas (every operator, `and`/`or`/`not`, grouping, value
 * paths; ordering operators only on types that have an order), then planned into the cheapest
 * store lookup: the id, an index (`userName`, `externalId`, `displayName`, emails), a group's
 * reverse membership index, or a paged scan; `matches()` evaluates the whole filter on each
 * candidate, comparing by attribute type and `caseExact` from the schema.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.2
 */

export type FilterLookup =
  | { kind: 'id'; id: string }
  | { kind: 'index'; attribute: IndexedAttribute; value: string }
  /** Groups that have this member (`members[value eq "U"]`, `members eq "U"`). */
  | { kind: 'memberOf'; member: string }
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
  if (typeof filter !== 'string' || filter.trim() === '') throw scimError('FILTER_EMPTY');
  let ast: Filter;
  try {
    ast = parseFilterExpression(rewriteValuePathComparisons(filter.trim()));
  } catch {
    // The parser's message quotes the offending token, which may be a submitted value.
    throw scimError('FILTER_INVALID');
  }
  if (type === 'User') qualifyEnterpriseAttributes(ast);
  const describe = (attrPath: string) => describeAttribute(type, attrPath, schemas);
  validate(ast, '', describe);
  const needsMembers = type === 'Group' && referencesMembers(ast);
  return {
    lookup: chooseLookup(type, ast),
    needsMembers,
    matches(resource, members) {
      const target = needsMembers ? { ...resource, members: (members ?? []).map((value) => ({ value })) } : resource;
      return matchesFilter(target, ast, { describe });
    },
  };
}

/** Common attributes (RFC 7643 §3.1) that no schema lists but every resource has. */
const COMMON: Record<string, AttributeInfo> = {
  id: { type: 'string', caseExact: true },
  'meta.created': { type: 'dateTime', caseExact: false },
  'meta.lastmodified': { type: 'dateTime', caseExact: false },
  'meta.resourcetype': { type: 'string', caseExact: true },
  'meta.location': { type: 'reference', caseExact: true },
  'meta.version': { type: 'string', caseExact: true },
};

/**
 * Type and caseExact of an attribute path from the connection's schemas (core, enterprise and
 * declared extensions). A multi-valued or complex attribute compared as a whole (`emails co "x"`,
 * `manager eq "m"`) compares its `value` sub-attribute, as RFC 7644 §3.4.2.2 describes.
 */
export function describeAttribute(type: ResourceType, attrPath: string, schemas: SchemaRegistry): AttributeInfo | undefined {
  const common = COMMON[canonical(attrPath)];
  if (common) return common;
  const resolved = schemas.resolve(type, attrPath);
  if (!resolved) return undefined;
  let definition = resolved.sub ?? resolved.attribute;
  if (definition.type === 'complex') {
    const value = definition.subAttributes?.find((sub) => sub.name === 'value');
    if (!value) return { type: 'complex', caseExact: false };
    definition = value;
  }
  return { type: definition.type, caseExact: definition.caseExact };
}

type Describe = (attrPath: string) => AttributeInfo | undefined;

/**
 * Structural and type checks: attribute paths well formed, no nested value filters, ordering
 * operators (`gt ge lt le`) not on booleans or binaries, and literals of the attribute's type
 * (a dateTime that parses, a number for a numeric attribute). Attributes no schema defines are
 * allowed and match nothing: Entra may be configured to match on any attribute.
 */
function validate(filter: Filter, prefix: string, describe: Describe): void {
  switch (filter.op) {
    case 'and':
    case 'or':
      filter.filters.forEach((f) => validate(f, prefix, describe));
      return;
    case 'not':
      validate(filter.filter, prefix, describe);
      return;
    case '[]':
      if (prefix !== '') throw scimError('FILTER_NESTED', { attribute: filter.attrPath });
      checkAttributePath(filter.attrPath);
      validate(filter.valFilter, `${filter.attrPath}.`, describe);
      return;
    case 'pr':
      checkAttributePath(filter.attrPath);
      return;
    default: {
      checkAttributePath(filter.attrPath);
      const info = describe(`${prefix}${filter.attrPath}`);
      if (info) checkComparison(filter.op, filter.attrPath, filter.compValue, info);
    }
  }
}

const ORDERING = new Set(['gt', 'ge', 'lt', 'le']);

function checkComparison(op: string, attrPath: string, literal: unknown, info: AttributeInfo): void {
  if (literal === null) return;
  const fail = (reason: string) => scimError('FILTER_COMPARISON', { op, attribute: attrPath, reason });
  switch (info.type) {
    case 'boolean':
      if (ORDERING.has(op) || !['eq', 'ne'].includes(op)) throw fail('a boolean can only be compared with eq or ne');
      // Entra quotes booleans in filters (`roles[primary eq "True"]`, docs Q12).
      if (typeof literal !== 'boolean' && !(typeof literal === 'string' && /^(?:true|false)$/i.test(literal))) {
        throw fail('the value must be true or false');
      }
      return;
    case 'binary':
    case 'complex':
      if (ORDERING.has(op)) throw fail(`a ${info.type} attribute has no order`);
      return;
    case 'dateTime':
      if ((op === 'eq' || op === 'ne' || ORDERING.has(op)) && (typeof literal !== 'string' || Number.isNaN(Date.parse(literal)))) {
        throw fail('the value must be a dateTime such as "2024-05-01T12:00:00Z"');
      }
      return;
    case 'integer':
    case 'decimal':
      if ((op === 'eq' || op === 'ne' || ORDERING.has(op)) && Number.isNaN(Number(literal))) throw fail('the value must be a number');
      return;
    default:
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
  if (!ATTRIBUTE_PATH.test(attrPath)) throw scimError('FILTER_ATTRIBUTE');
}

/** The attribute path without a core schema URN, lower-cased: `urn:…:core:2.0:User:userName` → `username`. */
function canonical(attrPath: string): string {
  const { urn, names } = splitAttrPath(attrPath);
  const path = names.join('.').toLowerCase();
  return urn === undefined || isCoreSchema(urn) ? path : `${urn.toLowerCase()}:${path}`;
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

/**
 * The most selective lookup a top-level `and` allows: id > userName/group displayName > a
 * group's membership > user displayName > externalId > email. Anything else is a scan.
 */
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
    const attribute = canonical(clause.attrPath);
    const value = topLevelClauses(clause.valFilter)
      .map((inner) => (inner.op === 'eq' && canonical(inner.attrPath) === 'value' ? literal(inner.compValue) : undefined))
      .find((v) => v !== undefined);
    if (value === undefined) return undefined;
    if (type === 'User' && attribute === 'emails') return { rank: 5, lookup: { kind: 'index', attribute: 'email', value } };
    if (type === 'Group' && attribute === 'members') return { rank: 2, lookup: { kind: 'memberOf', member: value } };
    return undefined;
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
      return index(type === 'Group' ? 1 : 3, 'displayName');
    case 'members':
    case 'members.value':
      return type === 'Group' ? { rank: 2, lookup: { kind: 'memberOf', member: value } } : undefined;
    case 'externalid':
      return index(4, 'externalId');
    case 'emails':
    case 'emails.value':
      return type === 'User' ? index(5, 'email') : undefined;
    default:
      return undefined;
  }
}

function literal(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}
