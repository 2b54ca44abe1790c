import { describe, expect, it } from 'vitest';
import { compileFilter } from '../../src/scim/filter.js';
import { createSchemaRegistry } from '../../src/scim/schema-registry.js';
import { compileSort } from '../../src/scim/sort.js';
import { SCHEMA_ENTERPRISE_USER, SCHEMA_USER, type ScimResource } from '../../src/scim/types.js';
import { errorOf } from '../helpers/scim-error.js';

/**
 * The filter engine beyond Entra's matching queries: every operator on every attribute type,
 * grouping, value paths, declared extension attributes with their schema's type and caseExact,
 * the lookups it plans, and sortBy.
 */

const BADGE = 'urn:ietf:params:scim:schemas:extension:Badge:2.0:User';
const registry = createSchemaRegistry([
  {
    id: BADGE,
    resourceType: 'User',
    required: false,
    attributes: [
      { name: 'code', type: 'string', multiValued: false, required: false, caseExact: true, mutability: 'readWrite' },
      { name: 'level', type: 'integer', multiValued: false, required: false, caseExact: false, mutability: 'readWrite' },
      { name: 'since', type: 'dateTime', multiValued: false, required: false, caseExact: false, mutability: 'readWrite' },
    ],
  },
]);

function user(extra: Record<string, unknown> = {}): ScimResource {
  return {
    id: 'U-1',
    schemas: [SCHEMA_USER],
    meta: { resourceType: 'User', created: '2024-05-01T10:00:00.000Z', lastModified: '2024-06-01T10:00:00.000Z' },
    userName: 'ada@example.com',
    active: true,
    title: 'Engineer',
    emails: [
      { type: 'work', value: 'ada@x.example', primary: true },
      { type: 'home', value: 'ada@home.example' },
    ],
    [SCHEMA_ENTERPRISE_USER]: { department: 'Sales', employeeNumber: '0042' },
    [BADGE]: { code: 'AbC', level: 7, since: '2024-01-15T00:00:00Z' },
    ...extra,
  };
}

const matches = (filter: string, resource = user()) => compileFilter('User', filter, registry).matches(resource);

describe('filter operators by attribute type', () => {
  it.each([
    ['userName eq "ADA@example.com"', true],
    ['userName ne "ada@example.com"', false],
    ['userName co "@EXAMPLE"', true],
    ['userName sw "Ada"', true],
    ['userName ew ".COM"', true],
    ['userName gt "aaa"', true],
    ['userName ge "ada@example.com"', true],
    ['userName lt "ada"', false],
    ['userName le "b"', true],
    ['title pr', true],
    ['nickName pr', false],
  ])('strings, case-insensitive: %s → %s', (filter, expected) => expect(matches(filter)).toBe(expected));

  it.each([
    ['meta.lastModified gt "2024-05-31T23:59:59Z"', true],
    ['meta.lastModified gt "2024-06-01T10:00:00Z"', false],
    ['meta.lastModified ge "2024-06-01T12:00:00+02:00"', true],
    ['meta.created lt "2024-05-02T00:00:00.000Z"', true],
    ['meta.lastModified eq "2024-06-01T10:00:00Z"', true],
    [`${BADGE}:since le "2024-01-15T00:00:00.000Z"`, true],
  ])('dateTimes by instant: %s → %s', (filter, expected) => expect(matches(filter)).toBe(expected));

  it.each([
    [`${BADGE}:level gt 6`, true],
    [`${BADGE}:level gt 10`, false],
    [`${BADGE}:level ge 7 and ${BADGE}:level le 7`, true],
    [`${BADGE}:level eq 7`, true],
  ])('numbers by value (7 > 10 would be false as text): %s → %s', (filter, expected) => expect(matches(filter)).toBe(expected));

  it('compares a caseExact declared attribute exactly, a plain one case-insensitively', () => {
    expect(matches(`${BADGE}:code eq "AbC"`)).toBe(true);
    expect(matches(`${BADGE}:code eq "abc"`)).toBe(false);
    expect(matches(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales"`)).toBe(true);
    expect(matches('department eq "SALES"')).toBe(true);
  });

  it('compares booleans for equality only, with quoted and bare literals in any case', () => {
    expect(matches('active eq true')).toBe(true);
    expect(matches('active eq "True"')).toBe(true);
    expect(matches('active ne false')).toBe(true);
    expect(matches('emails[primary eq "TRUE"].value eq "ada@x.example"')).toBe(true);
  });
});

describe('logic, grouping and value paths', () => {
  it.each([
    ['title eq "x" or (userName sw "ada" and active eq true)', true],
    ['not (title eq "Engineer") or active eq false', false],
    ['(title eq "Engineer" or title eq "Boss") and not (nickName pr)', true],
    ['emails[type eq "work" and value co "@x"]', true],
    ['emails[type eq "home" and value co "@x"]', false],
    ['emails[type eq "work" or type eq "other"].value ew ".example"', true],
    ['emails[not (type eq "work")].value co "home"', true],
    ['emails co "@home"', true],
    ['emails.type eq "home" and emails.value co "@x"', true],
  ])('%s → %s', (filter, expected) => expect(matches(filter)).toBe(expected));

  it('plans the cheapest lookup: index, reverse membership index, or a scan', () => {
    expect(compileFilter('User', 'title eq "x" and userName eq "a"').lookup).toEqual({ kind: 'index', attribute: 'userName', value: 'a' });
    expect(compileFilter('Group', 'members[value eq "U-9"]').lookup).toEqual({ kind: 'memberOf', member: 'U-9' });
    expect(compileFilter('Group', 'members.value eq "U-9" and displayName sw "S"').lookup).toEqual({ kind: 'memberOf', member: 'U-9' });
    expect(compileFilter('Group', 'displayName eq "S" and members eq "U-9"').lookup).toMatchObject({ kind: 'index', attribute: 'displayName' });
    expect(compileFilter('User', 'userName eq "a" or title eq "b"').lookup).toEqual({ kind: 'scan' });
    expect(compileFilter('User', 'not (userName eq "a")').lookup).toEqual({ kind: 'scan' });
  });
});

describe('filter errors', () => {
  it.each([
    'active gt true',
    'active co "t"',
    'active eq "maybe"',
    'meta.lastModified gt "last tuesday"',
    `${BADGE}:level gt "high"`,
    'emails[type eq "work" and value co "@x"',
    'userName eq',
  ])('answers %s with 400 invalidFilter', (filter) => {
    const error = errorOf(() => compileFilter('User', filter, registry));
    expect([error.status, error.scimType]).toEqual([400, 'invalidFilter']);
  });

  it('lets an attribute no schema defines match nothing rather than fail (Entra may match on anything)', () => {
    expect(matches('favouriteColour eq "blue"')).toBe(false);
  });
});

describe('sortBy', () => {
  const people = [
    user({ id: 'a', userName: 'carol', [BADGE]: { level: 10 } }),
    user({ id: 'b', userName: 'Bob', [BADGE]: { level: 9 } }),
    user({ id: 'c', userName: 'alice', [BADGE]: {} }),
  ];
  const order = (sortBy: string, sortOrder?: string) => {
    const sort = compileSort('User', sortBy, sortOrder, registry);
    return [...people].sort((x, y) => sort.compare(sort.key(x), sort.key(y))).map((p) => p.id);
  };

  it('sorts strings case-insensitively, numbers by value, missing values last in either order', () => {
    expect(order('userName')).toEqual(['c', 'b', 'a']);
    expect(order('userName', 'DESCENDING')).toEqual(['a', 'b', 'c']);
    expect(order(`${BADGE}:level`)).toEqual(['b', 'a', 'c']);
    expect(order(`${BADGE}:level`, 'descending')).toEqual(['a', 'b', 'c']);
  });

  it('answers a bad sortOrder or sortBy with 400 invalidValue', () => {
    expect(errorOf(() => compileSort('User', 'userName', 'upwards')).scimType).toBe('invalidValue');
    expect(errorOf(() => compileSort('User', 'emails[type eq "work"]', undefined)).scimType).toBe('invalidValue');
  });
});
